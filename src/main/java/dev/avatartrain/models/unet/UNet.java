package dev.avatartrain.models.unet;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.models.nn.GraphBuilder;
import dev.avatartrain.models.nn.Network;
import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.enums.PadMode;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * diffusers' {@code UNet2DConditionModel} (0.27.2) as a SameDiff graph with diffusers' parameter names
 * ({@code conv_in.weight}, {@code down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight}, ...)
 * and computation, for the configurations {@link UNetConfig} accepts.
 *
 * <p>Placeholders: {@link #SAMPLE} {@code [B, in_channels, h, w]} with h, w multiples of
 * {@link UNetConfig#sizeMultiple()}; {@link #TIMESTEP} {@code [B]} (the graph's float type; integer timesteps
 * are converted by {@link #forward}); {@link #ENCODER_HIDDEN_STATES} {@code [B, S, cross_attention_dim]}.
 * Output: {@link #OUT} {@code [B, out_channels, h, w]}. {@link #TARGET} and the scalar {@link #LOSS} (mean
 * squared error of {@code OUT} against {@code TARGET}) are there for training.
 */
public final class UNet implements Network {
    public static final String SAMPLE = "sample";
    public static final String TIMESTEP = "timestep";
    public static final String ENCODER_HIDDEN_STATES = "encoder_hidden_states";
    public static final String OUT = "out";
    public static final String TARGET = "target";
    public static final String LOSS = "loss";
    /** Mean absolute error of {@code OUT} against {@code TARGET} (training's default loss, {@code train.loss: l1}). */
    public static final String LOSS_L1 = "loss_l1";

    /** diffusers' Transformer2DModel GroupNorm eps and BasicTransformerBlock LayerNorm eps (fixed in 0.27). */
    static final double TRANSFORMER_NORM_EPS = 1e-6;
    static final double LAYER_NORM_EPS = 1e-5;

    private final UNetConfig config;
    private final GraphBuilder g;
    private final SameDiff sd;
    private final List<String> parameterNames;
    private final FusedUNet fused;
    private boolean useGraph;

    private SDVariable embAct; // act(emb): the input of every ResNet's time_emb_proj
    private SDVariable context; // encoder_hidden_states

    private UNet(UNetConfig config, DataType dtype, long seed) {
        this.config = config;
        this.g = new GraphBuilder(dtype, seed);
        this.sd = g.sd();
        build();
        this.parameterNames = g.parameterNames();
        this.fused = new FusedUNet(config);
    }

    /** Builds the graph with PyTorch-default random initialisation from {@code seed} (FLOAT or DOUBLE). */
    public static UNet build(UNetConfig config, DataType dtype, long seed) {
        return new UNet(config, dtype, seed);
    }

    public UNetConfig config() {
        return config;
    }

    @Override
    public SameDiff graph() {
        return sd;
    }

    @Override
    public List<String> parameterNames() {
        return parameterNames;
    }

    /**
     * For float32, {@link #forward} of {@link #OUT} and the losses, {@link #gradients} and {@link #lossAndGradients}
     * normally run a hand-written pass over the same parameters ({@code FusedUNet}: fused norms, activations and
     * attention, far less memory); {@code true} runs the SameDiff graph instead (always the case for float64 and on
     * the CUDA backend, where arrays live on the GPU). Both
     * compute the same function (tested against each other and against diffusers).
     */
    public UNet useGraph(boolean graph) {
        this.useGraph = graph;
        return this;
    }

    /** The hand-written kernels work on host memory: float32 on the CPU backend (on CUDA the graph runs). */
    private boolean fusedFor(String loss) {
        return !useGraph && g.dataType() == DataType.FLOAT && Nd4j.getEnvironment().isCPU()
                && (loss == null || loss.equals(LOSS) || loss.equals(LOSS_L1));
    }

    @Override
    public Map<String, INDArray> gradients(Map<String, INDArray> placeholders, String loss) {
        return fusedFor(loss) ? lossAndGradients(placeholders, loss).gradients()
                : Network.super.gradients(placeholders, loss);
    }

    @Override
    public LossAndGradients lossAndGradients(Map<String, INDArray> placeholders, String loss) {
        if (!fusedFor(loss)) {
            return Network.super.lossAndGradients(placeholders, loss);
        }
        FusedUNet.Result r = fused.run(placeholders, parameters(), loss, true);
        return new LossAndGradients(r.loss(), r.gradients());
    }

    @Override
    public Map<String, INDArray> forward(Map<String, INDArray> placeholders, String... outputs) {
        String loss = null;
        for (String o : outputs) {
            if (o.equals(LOSS) || o.equals(LOSS_L1)) {
                if (loss != null && !loss.equals(o)) {
                    return Network.super.forward(placeholders, outputs);
                }
                loss = o;
            } else if (!o.equals(OUT)) {
                return Network.super.forward(placeholders, outputs);
            }
        }
        if (!fusedFor(loss)) {
            return Network.super.forward(placeholders, outputs);
        }
        FusedUNet.Result r = fused.run(placeholders, parameters(), loss, false);
        Map<String, INDArray> m = new java.util.HashMap<>();
        for (String o : outputs) {
            m.put(o, o.equals(OUT) ? r.out() : Nd4j.scalar(DataType.FLOAT, (float) r.loss()));
        }
        return m;
    }

    /**
     * One forward pass. {@code timestep} may be integer or float, of length B or 1 (then used for every sample,
     * as diffusers broadcasts it).
     */
    public INDArray forward(INDArray sample, INDArray timestep, INDArray encoderHiddenStates) {
        return forward(placeholders(sample, timestep, encoderHiddenStates), OUT).get(OUT);
    }

    /** Checks the inputs' shapes and converts them to the graph's type; the map feeds {@link #forward}. */
    public Map<String, INDArray> placeholders(INDArray sample, INDArray timestep, INDArray encoderHiddenStates) {
        DataType dt = g.dataType();
        long[] s = sample.shape();
        int m = config.sizeMultiple();
        if (s.length != 4 || s[1] != config.inChannels() || s[2] % m != 0 || s[3] % m != 0 || s[2] == 0
                || s[3] == 0) {
            throw new BadInputException("UNet input \"" + SAMPLE + "\" has shape " + Arrays.toString(s)
                    + "; expected [B, " + config.inChannels() + ", h, w] with h and w positive multiples of " + m
                    + ".");
        }
        long b = s[0];
        long[] e = encoderHiddenStates.shape();
        if (e.length != 3 || e[0] != b || e[2] != config.crossAttentionDim() || e[1] == 0) {
            throw new BadInputException("UNet input \"" + ENCODER_HIDDEN_STATES + "\" has shape " + Arrays.toString(e)
                    + "; expected [" + b + ", S, " + config.crossAttentionDim() + "].");
        }
        INDArray t = timestep.reshape(timestep.length()).castTo(dt);
        if (t.length() == 1 && b != 1) {
            t = Nd4j.valueArrayOf(new long[] {b}, t.getDouble(0), dt);
        } else if (t.length() != b) {
            throw new BadInputException("UNet input \"" + TIMESTEP + "\" has " + t.length()
                    + " values; expected 1 or " + b + " (one per sample).");
        }
        return Map.of(SAMPLE, sample.castTo(dt), TIMESTEP, t, ENCODER_HIDDEN_STATES, encoderHiddenStates.castTo(dt));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Graph

    private void build() {
        UNetConfig c = config;
        int n = c.levels();
        int[] ch = c.blockOutChannels();
        SDVariable x = g.input(SAMPLE, -1, c.inChannels(), -1, -1);
        SDVariable t = g.input(TIMESTEP, -1);
        context = g.input(ENCODER_HIDDEN_STATES, -1, -1, c.crossAttentionDim());

        if (c.centerInputSample()) {
            x = x.mul(2.0).sub(1.0);
        }
        SDVariable tEmb = timeProjection(t, ch[0]);
        SDVariable emb = g.linear("time_embedding.linear_1", tEmb, ch[0], c.timeEmbedDim(), true);
        emb = act(emb);
        emb = g.linear("time_embedding.linear_2", emb, c.timeEmbedDim(), c.timeEmbedDim(), true);
        embAct = act(emb);

        x = g.conv2d("conv_in", x, c.inChannels(), ch[0], 3, 1, 1, true);

        // down: every ResNet/attention output and every downsampler output is kept for the up path
        SDVariable[] skips = new SDVariable[1 + Arrays.stream(c.layersPerBlock()).sum() + (n - 1)];
        int[] skipChannels = new int[skips.length];
        int ns = 0;
        skips[ns] = x;
        skipChannels[ns++] = ch[0];
        int outCh = ch[0];
        for (int i = 0; i < n; i++) {
            int inCh = outCh;
            outCh = ch[i];
            String p = "down_blocks." + i;
            boolean cross = c.downBlockTypes().get(i).equals(UNetConfig.CROSS_DOWN);
            for (int j = 0; j < c.layersPerBlock()[i]; j++) {
                x = resnet(p + ".resnets." + j, x, j == 0 ? inCh : outCh, outCh, 1.0);
                if (cross) {
                    x = transformer(p + ".attentions." + j, x, outCh, c.attentionHeads()[i]);
                }
                skips[ns] = x;
                skipChannels[ns++] = outCh;
            }
            if (i < n - 1) {
                x = downsample(p + ".downsamplers.0.conv", x, outCh);
                skips[ns] = x;
                skipChannels[ns++] = outCh;
            }
        }

        // mid
        int top = ch[n - 1];
        double scale = c.midBlockScaleFactor();
        x = resnet("mid_block.resnets.0", x, top, top, scale);
        x = transformer("mid_block.attentions.0", x, top, c.attentionHeads()[n - 1]);
        x = resnet("mid_block.resnets.1", x, top, top, scale);

        // up: ResNets see cat([x, skip]) with skips taken last-in first-out
        int prevOut = ch[n - 1];
        for (int i = 0; i < n; i++) {
            int level = n - 1 - i;
            int out = ch[level];
            int heads = c.attentionHeads()[level];
            String p = "up_blocks." + i;
            boolean cross = c.upBlockTypes().get(i).equals(UNetConfig.CROSS_UP);
            int layers = c.layersPerBlock()[level] + 1;
            for (int j = 0; j < layers; j++) {
                SDVariable skip = skips[--ns];
                int resIn = (j == 0 ? prevOut : out);
                x = sd.concat(1, x, skip);
                x = resnet(p + ".resnets." + j, x, resIn + skipChannels[ns], out, 1.0);
                if (cross) {
                    x = transformer(p + ".attentions." + j, x, out, heads);
                }
            }
            if (i < n - 1) {
                x = g.upsampleNearest2x(x);
                x = g.conv2d(p + ".upsamplers.0.conv", x, out, out, 3, 1, 1, true);
            }
            prevOut = out;
        }
        if (ns != 0) {
            throw new IllegalStateException("unused skip connections: " + ns);
        }

        x = g.groupNorm("conv_norm_out", x, c.normNumGroups(), ch[0], c.normEps());
        x = act(x);
        SDVariable out = g.conv2d("conv_out", x, ch[0], c.outChannels(), 3, 1, 1, true).rename(OUT);

        SDVariable target = g.input(TARGET, -1, c.outChannels(), -1, -1);
        g.mseLoss(LOSS, out, target);
        g.l1Loss(LOSS_L1, out, target);
    }

    /** diffusers' {@code Timesteps}: sinusoidal embedding with {@code flip_sin_to_cos} and {@code freq_shift}. */
    private SDVariable timeProjection(SDVariable t, int dim) {
        int half = dim / 2;
        // Frequencies computed in float32 exactly as diffusers does, so the (large) arguments agree.
        float[] freqs = new float[half];
        float logPeriod = (float) -Math.log(10000);
        float denom = (float) (half - config.freqShift());
        for (int i = 0; i < half; i++) {
            freqs[i] = (float) Math.exp((logPeriod * i) / denom);
        }
        SDVariable f = sd.constant(Nd4j.createFromArray(new float[][] {freqs}).castTo(g.dataType()));
        SDVariable arg = t.reshape(-1, 1).mul(f);
        SDVariable sin = sd.math().sin(arg);
        SDVariable cos = sd.math().cos(arg);
        SDVariable emb = config.flipSinToCos() ? sd.concat(1, cos, sin) : sd.concat(1, sin, cos);
        if (dim % 2 == 1) {
            SDVariable zero = arg.get(SDIndex.all(), SDIndex.interval(0, 1)).mul(0.0);
            emb = sd.concat(1, emb, zero);
        }
        return emb;
    }

    private SDVariable act(SDVariable x) {
        return switch (config.actFn()) {
            case "silu", "swish" -> g.silu(x);
            case "gelu" -> g.gelu(x);
            case "relu" -> g.relu(x);
            default -> throw new IllegalStateException(config.actFn());
        };
    }

    /** diffusers' {@code ResnetBlock2D} (pre-norm, time embedding added after conv1, optional 1×1 shortcut). */
    private SDVariable resnet(String p, SDVariable x, int in, int out, double outputScale) {
        UNetConfig c = config;
        SDVariable h = g.groupNorm(p + ".norm1", x, c.normNumGroups(), in, c.normEps());
        h = act(h);
        h = g.conv2d(p + ".conv1", h, in, out, 3, 1, 1, true);
        SDVariable temb = g.linear(p + ".time_emb_proj", embAct, c.timeEmbedDim(), out, true);
        h = h.add(temb.reshape(-1, out, 1, 1));
        h = g.groupNorm(p + ".norm2", h, c.normNumGroups(), out, c.normEps());
        h = act(h);
        h = g.conv2d(p + ".conv2", h, out, out, 3, 1, 1, true);
        SDVariable shortcut = in == out ? x : g.conv2d(p + ".conv_shortcut", x, in, out, 1, 1, 0, true);
        SDVariable y = shortcut.add(h);
        return outputScale == 1.0 ? y : y.div(outputScale);
    }

    /** diffusers' {@code Downsample2D} with a convolution: stride 2, {@code downsample_padding} (0: pad right/bottom). */
    private SDVariable downsample(String p, SDVariable x, int channels) {
        int pad = config.downsamplePadding();
        if (pad == 0) {
            SDVariable pads = sd.constant(Nd4j.createFromArray(new int[][] {{0, 0}, {0, 0}, {0, 1}, {0, 1}}));
            x = sd.nn().pad(x, pads, PadMode.CONSTANT, 0.0);
        }
        return g.conv2d(p, x, channels, channels, 3, 2, pad, true);
    }

    /**
     * diffusers' {@code Transformer2DModel} (continuous input, one {@code BasicTransformerBlock}): GroupNorm,
     * proj_in (1×1 conv or linear), self-attention, cross-attention, GEGLU feed-forward, proj_out, residual.
     */
    private SDVariable transformer(String p, SDVariable x, int channels, int heads) {
        int headDim = channels / heads;
        int inner = heads * headDim;
        SDVariable shape = x.shape(); // [B, C, H, W]
        SDVariable bhw = sd.concat(0, shape.get(SDIndex.interval(0, 1)), shape.get(SDIndex.interval(2, 4)));
        SDVariable h = g.groupNorm(p + ".norm", x, config.normNumGroups(), channels, TRANSFORMER_NORM_EPS);
        if (!config.useLinearProjection()) {
            h = g.conv2d(p + ".proj_in", h, channels, inner, 1, 1, 0, true);
            h = toTokens(h, shape, inner);
        } else {
            h = toTokens(h, shape, channels);
            h = g.linear(p + ".proj_in", h, channels, inner, true);
        }

        String b = p + ".transformer_blocks.0";
        SDVariable n1 = g.layerNorm(b + ".norm1", h, inner, LAYER_NORM_EPS, true);
        h = h.add(attention(b + ".attn1", n1, null, inner, heads, headDim));
        SDVariable n2 = g.layerNorm(b + ".norm2", h, inner, LAYER_NORM_EPS, true);
        h = h.add(attention(b + ".attn2", n2, context, inner, heads, headDim));
        SDVariable n3 = g.layerNorm(b + ".norm3", h, inner, LAYER_NORM_EPS, true);
        h = h.add(geglu(b + ".ff", n3, inner));

        SDVariable y;
        if (!config.useLinearProjection()) {
            y = fromTokens(h, bhw, inner);
            y = g.conv2d(p + ".proj_out", y, inner, channels, 1, 1, 0, true);
        } else {
            h = g.linear(p + ".proj_out", h, inner, channels, true);
            y = fromTokens(h, bhw, channels);
        }
        return y.add(x);
    }

    /** {@code [B, C, H, W] -> [B, H*W, C]}. */
    private SDVariable toTokens(SDVariable x, SDVariable shape, int channels) {
        SDVariable newShape = sd.concat(0, shape.get(SDIndex.interval(0, 1)),
                sd.constant(Nd4j.createFromArray(-1L, channels)));
        return sd.reshape(x.permute(0, 2, 3, 1), newShape);
    }

    /** {@code [B, H*W, C] -> [B, C, H, W]} given {@code [B, H, W]}. */
    private SDVariable fromTokens(SDVariable x, SDVariable bhw, int channels) {
        SDVariable newShape = sd.concat(0, bhw, sd.constant(Nd4j.createFromArray((long) channels)));
        return sd.reshape(x, newShape).permute(0, 3, 1, 2);
    }

    /**
     * diffusers' {@code Attention} (no q/k/v bias, {@code to_out.0} with bias): softmax(Q Kᵀ / √d) V per head,
     * as batched matrix products over {@code [B, heads, tokens, d]}. {@code ctx == null}: self-attention.
     */
    private SDVariable attention(String p, SDVariable x, SDVariable ctx, int inner, int heads, int headDim) {
        SDVariable kvIn = ctx == null ? x : ctx;
        int kvDim = ctx == null ? inner : config.crossAttentionDim();
        SDVariable q = splitHeads(g.linear(p + ".to_q", x, inner, inner, false), heads, headDim);
        SDVariable k = splitHeads(g.linear(p + ".to_k", kvIn, kvDim, inner, false), heads, headDim);
        SDVariable v = splitHeads(g.linear(p + ".to_v", kvIn, kvDim, inner, false), heads, headDim);
        // The scale goes on Q ([B, heads, N, d]) rather than on the [B, heads, N, M] scores: one product of the
        // large array fewer, forward and backward.
        SDVariable scores = sd.mmul(q.mul(1.0 / Math.sqrt(headDim)), k, false, true, false);
        SDVariable probs = sd.nn().softmax(scores, -1);
        SDVariable o = sd.mmul(probs, v); // [B, heads, N, d]
        SDVariable xs = x.shape();
        SDVariable merged = sd.reshape(o.permute(0, 2, 1, 3), xs);
        return g.linear(p + ".to_out.0", merged, inner, inner, true);
    }

    /** {@code [B, N, heads*d] -> [B, heads, N, d]}. */
    private SDVariable splitHeads(SDVariable x, int heads, int headDim) {
        SDVariable s = x.shape();
        SDVariable newShape = sd.concat(0, s.get(SDIndex.interval(0, 2)),
                sd.constant(Nd4j.createFromArray((long) heads, headDim)));
        return sd.reshape(x, newShape).permute(0, 2, 1, 3);
    }

    /** diffusers' {@code FeedForward} with GEGLU: {@code net.0.proj} to 2·4·dim, value · gelu(gate), {@code net.2}. */
    private SDVariable geglu(String p, SDVariable x, int dim) {
        int hidden = 4 * dim;
        SDVariable proj = g.linear(p + ".net.0.proj", x, dim, 2 * hidden, true);
        SDVariable value = proj.get(SDIndex.all(), SDIndex.all(), SDIndex.interval(0, hidden));
        SDVariable gate = proj.get(SDIndex.all(), SDIndex.all(), SDIndex.interval(hidden, 2 * hidden));
        return g.linear(p + ".net.2", value.mul(g.gelu(gate)), hidden, dim, true);
    }
}
