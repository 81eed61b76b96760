package dev.avatartrain.models.unet;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.models.kernels.Activation;
import dev.avatartrain.models.nn.Backend;
import dev.avatartrain.models.nn.DefinedNetwork;
import dev.avatartrain.models.nn.Definition;
import dev.avatartrain.models.nn.Ops;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * diffusers' {@code UNet2DConditionModel} (0.27.2) with diffusers' parameter names
 * ({@code conv_in.weight}, {@code down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight}, ...)
 * and computation, for the configurations {@link UNetConfig} accepts: defined once ({@link Forward}), run on the
 * {@link Backend} chosen when it is built.
 *
 * <p>Inputs: {@link #SAMPLE} {@code [B, in_channels, h, w]} with h, w multiples of
 * {@link UNetConfig#sizeMultiple()}; {@link #TIMESTEP} {@code [B]} (the network's float type; integer timesteps
 * are converted by {@link #placeholders}); {@link #ENCODER_HIDDEN_STATES} {@code [B, S, cross_attention_dim]}.
 * Output: {@link #OUT} {@code [B, out_channels, h, w]}. {@link #TARGET} and the scalar losses {@link #LOSS} (mean
 * squared error of {@code OUT} against {@code TARGET}) and {@link #LOSS_L1} are there for training.
 */
public final class UNet extends DefinedNetwork {
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

    private UNet(UNetConfig config, DataType dtype, long seed, Backend backend) {
        super("UNet", new Forward(config), dtype, seed, backend);
        this.config = config;
    }

    /** A UNet with PyTorch-default random initialisation from {@code seed}, on the default backend for {@code dtype}. */
    public static UNet build(UNetConfig config, DataType dtype, long seed) {
        return build(config, dtype, seed, Backend.defaultFor(dtype));
    }

    /** A UNet with PyTorch-default random initialisation from {@code seed} (FLOAT or DOUBLE), on {@code backend}. */
    public static UNet build(UNetConfig config, DataType dtype, long seed, Backend backend) {
        return new UNet(config, dtype, seed, backend);
    }

    public UNetConfig config() {
        return config;
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
        DataType dt = dataType();
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

    /** The network, written once against {@link Ops}. */
    private static final class Forward implements Definition {
        private final UNetConfig c;
        private final Activation act;

        Forward(UNetConfig config) {
            this.c = config;
            this.act = Activation.of(config.actFn());
        }

        @Override
        public String output() {
            return OUT;
        }

        @Override
        public List<String> losses() {
            return List.of(LOSS, LOSS_L1);
        }

        @Override
        public <T> T loss(Ops<T> nn, String name, T out) {
            T target = nn.input(TARGET, -1, c.outChannels(), -1, -1);
            return name.equals(LOSS_L1) ? nn.l1Loss(out, target) : nn.mseLoss(out, target);
        }

        /** The pass's values that every block reads. */
        private record Shared<T>(T embAct, T context) {
        }

        @Override
        public <T> T forward(Ops<T> nn) {
            int n = c.levels();
            int[] ch = c.blockOutChannels();
            int temb = c.timeEmbedDim();
            T x = nn.input(SAMPLE, -1, c.inChannels(), -1, -1);
            T t = nn.input(TIMESTEP, -1);
            T context = nn.input(ENCODER_HIDDEN_STATES, -1, -1, c.crossAttentionDim());
            if (c.centerInputSample()) {
                x = nn.affine(x, 2, -1);
            }
            T emb = nn.timestepEmbedding(t, ch[0], c.freqShift(), c.flipSinToCos());
            emb = nn.activation(nn.linear("time_embedding.linear_1", emb, ch[0], temb, true), act);
            emb = nn.linear("time_embedding.linear_2", emb, temb, temb, true);
            Shared<T> s = new Shared<>(nn.activation(emb, act), context);

            x = nn.conv2d("conv_in", x, c.inChannels(), ch[0], 3, 1, 1, true);
            // down: every ResNet/attention output and every downsampler output is kept for the up path
            List<T> skips = new ArrayList<>();
            List<Integer> skipChannels = new ArrayList<>();
            skips.add(x);
            skipChannels.add(ch[0]);
            int outCh = ch[0];
            for (int i = 0; i < n; i++) {
                int inCh = outCh;
                outCh = ch[i];
                String p = "down_blocks." + i;
                boolean cross = c.downBlockTypes().get(i).equals(UNetConfig.CROSS_DOWN);
                for (int j = 0; j < c.layersPerBlock()[i]; j++) {
                    x = resnet(nn, s, p + ".resnets." + j, x, j == 0 ? inCh : outCh, outCh, 1.0);
                    if (cross) {
                        x = transformer(nn, s, p + ".attentions." + j, x, outCh, c.attentionHeads()[i]);
                    }
                    skips.add(x);
                    skipChannels.add(outCh);
                }
                if (i < n - 1) {
                    // Downsample2D: stride 2; downsample_padding 0 pads right and bottom only
                    T padded = c.downsamplePadding() == 0 ? nn.padBottomRight(x) : x;
                    x = nn.conv2d(p + ".downsamplers.0.conv", padded, outCh, outCh, 3, 2, c.downsamplePadding(), true);
                    skips.add(x);
                    skipChannels.add(outCh);
                }
            }

            int top = ch[n - 1];
            double scale = c.midBlockScaleFactor();
            x = resnet(nn, s, "mid_block.resnets.0", x, top, top, scale);
            x = transformer(nn, s, "mid_block.attentions.0", x, top, c.attentionHeads()[n - 1]);
            x = resnet(nn, s, "mid_block.resnets.1", x, top, top, scale);

            // up: ResNets see cat([x, skip]) with skips taken last-in first-out
            int prevOut = top;
            for (int i = 0; i < n; i++) {
                int level = n - 1 - i;
                int out = ch[level];
                String p = "up_blocks." + i;
                boolean cross = c.upBlockTypes().get(i).equals(UNetConfig.CROSS_UP);
                for (int j = 0; j < c.layersPerBlock()[level] + 1; j++) {
                    int last = skips.size() - 1;
                    int resIn = (j == 0 ? prevOut : out) + skipChannels.remove(last);
                    x = nn.concat(1, x, skips.remove(last));
                    x = resnet(nn, s, p + ".resnets." + j, x, resIn, out, 1.0);
                    if (cross) {
                        x = transformer(nn, s, p + ".attentions." + j, x, out, c.attentionHeads()[level]);
                    }
                }
                if (i < n - 1) {
                    x = nn.conv2d(p + ".upsamplers.0.conv", nn.upsample2x(x), out, out, 3, 1, 1, true);
                }
                prevOut = out;
            }
            if (!skips.isEmpty()) {
                throw new IllegalStateException("unused skip connections: " + skips.size());
            }
            x = nn.groupNorm("conv_norm_out", x, c.normNumGroups(), ch[0], c.normEps(), act);
            return nn.conv2d("conv_out", x, ch[0], c.outChannels(), 3, 1, 1, true);
        }

        /**
         * diffusers' {@code ResnetBlock2D} (pre-norm, time embedding added after conv1, 1×1 shortcut if in ≠ out), one
         * {@link Ops#checkpoint} block as diffusers checkpoints it.
         */
        private <T> T resnet(Ops<T> nn, Shared<T> s, String p, T x, int in, int out, double outputScale) {
            return nn.checkpoint(List.of(x, s.embAct()), v -> resnet(nn, v.get(1), p, v.get(0), in, out, outputScale));
        }

        private <T> T resnet(Ops<T> nn, T embAct, String p, T x, int in, int out, double outputScale) {
            int groups = c.normNumGroups();
            T h = nn.groupNorm(p + ".norm1", x, groups, in, c.normEps(), act);
            h = nn.conv2d(p + ".conv1", h, in, out, 3, 1, 1, true);
            h = nn.addPerChannel(h, nn.linear(p + ".time_emb_proj", embAct, c.timeEmbedDim(), out, true));
            h = nn.groupNorm(p + ".norm2", h, groups, out, c.normEps(), act);
            h = nn.conv2d(p + ".conv2", h, out, out, 3, 1, 1, true);
            T shortcut = in == out ? x : nn.conv2d(p + ".conv_shortcut", x, in, out, 1, 1, 0, true);
            T y = nn.add(shortcut, h);
            return outputScale == 1.0 ? y : nn.scale(y, 1.0 / outputScale);
        }

        /**
         * diffusers' {@code Transformer2DModel} (continuous input, one {@code BasicTransformerBlock}): GroupNorm,
         * proj_in, self-attention, cross-attention, GEGLU feed-forward, proj_out, residual. A 1×1-convolution
         * projection is the same product as a linear one on tokens, so both run on tokens (the convolution's weight
         * keeps its {@code [out, in, 1, 1]} shape). One {@link Ops#checkpoint} block, as diffusers checkpoints it.
         */
        private <T> T transformer(Ops<T> nn, Shared<T> s, String p, T x, int channels, int heads) {
            return nn.checkpoint(List.of(x, s.context()), v -> transformer(nn, v.get(1), p, v.get(0), channels, heads));
        }

        private <T> T transformer(Ops<T> nn, T context, String p, T x, int channels, int heads) {
            int inner = heads * (channels / heads);
            boolean conv = !c.useLinearProjection();
            T h = nn.toTokens(nn.groupNorm(p + ".norm", x, c.normNumGroups(), channels, TRANSFORMER_NORM_EPS,
                    Activation.IDENTITY));
            h = nn.pointwise(p + ".proj_in", h, channels, inner, true, conv);
            String b = p + ".transformer_blocks.0";
            T n1 = nn.layerNorm(b + ".norm1", h, inner, LAYER_NORM_EPS);
            h = nn.add(h, attention(nn, b + ".attn1", n1, n1, inner, inner, heads));
            T n2 = nn.layerNorm(b + ".norm2", h, inner, LAYER_NORM_EPS);
            h = nn.add(h, attention(nn, b + ".attn2", n2, context, c.crossAttentionDim(), inner, heads));
            T n3 = nn.layerNorm(b + ".norm3", h, inner, LAYER_NORM_EPS);
            // FeedForward with GEGLU: net.0.proj to 2·4·inner, value · gelu(gate), net.2
            T ff = nn.geglu(nn.linear(b + ".ff.net.0.proj", n3, inner, 8 * inner, true), 4 * inner);
            h = nn.add(h, nn.linear(b + ".ff.net.2", ff, 4 * inner, inner, true));
            T y = nn.fromTokens(nn.pointwise(p + ".proj_out", h, inner, channels, true, conv), x);
            return nn.add(y, x);
        }

        /** diffusers' {@code Attention}: q/k/v projections without bias, {@code to_out.0} with bias. */
        private <T> T attention(Ops<T> nn, String p, T x, T kv, int kvDim, int inner, int heads) {
            T q = nn.linear(p + ".to_q", x, inner, inner, false);
            T k = nn.linear(p + ".to_k", kv, kvDim, inner, false);
            T v = nn.linear(p + ".to_v", kv, kvDim, inner, false);
            return nn.linear(p + ".to_out.0", nn.attention(q, k, v, heads, inner / heads), inner, inner, true);
        }
    }
}
