package dev.avatartrain.models.unet;

import java.nio.FloatBuffer;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.Map;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.models.kernels.Activation;
import dev.avatartrain.models.kernels.Layers;
import dev.avatartrain.models.kernels.Tape;
import dev.avatartrain.models.kernels.Tape.Var;

/**
 * The UNet's forward pass, loss and backward pass on the hand-written layers of {@link dev.avatartrain.models.kernels}
 * — the same computation as {@link UNet}'s SameDiff graph (tested against it and against diffusers), for float32.
 * SameDiff keeps every intermediate of a forward+backward pass alive and runs GroupNorm, SiLU, LayerNorm and the
 * softmax as chains of separate ops (docs/benchmarks.md), so training uses this path.
 *
 * <p>Works on the model's live parameter arrays; returned arrays are new.
 */
final class FusedUNet {
    private final UNetConfig c;
    private final Activation act;

    FusedUNet(UNetConfig config) {
        this.c = config;
        this.act = Activation.of(config.actFn());
    }

    /** What one pass computed: the output, the loss (NaN without a target) and, if asked for, the gradients. */
    record Result(INDArray out, double loss, Map<String, INDArray> gradients) {
    }

    /** The pass's state: the tape and the parameters as tape values. */
    private final class Pass {
        final Tape tape;
        final Map<String, Var> params = new LinkedHashMap<>();
        final int batch;
        Var embAct;
        Var context;

        Pass(Tape tape, Map<String, INDArray> parameters, int batch) {
            this.tape = tape;
            this.batch = batch;
            parameters.forEach((n, a) -> params.put(n, tape.parameter(a)));
        }

        Var p(String name) {
            Var v = params.get(name);
            if (v == null) {
                throw new IllegalStateException("UNet has no parameter " + name);
            }
            return v;
        }

        Var conv(String prefix, Var x, int stride, int pad) {
            return Layers.conv2d(tape, x, p(prefix + ".weight"), p(prefix + ".bias"), stride, pad);
        }

        Var linear(String prefix, Var x, boolean bias) {
            return Layers.linear(tape, x, p(prefix + ".weight"), bias ? p(prefix + ".bias") : null);
        }

        Var groupNorm(String prefix, Var x, double eps, Activation a) {
            return Layers.groupNorm(tape, x, p(prefix + ".weight"), p(prefix + ".bias"), c.normNumGroups(), eps, a);
        }

        Var layerNorm(String prefix, Var x) {
            return Layers.layerNorm(tape, x, p(prefix + ".weight"), p(prefix + ".bias"), UNet.LAYER_NORM_EPS);
        }
    }

    /**
     * @param ph       {@code sample}, {@code timestep}, {@code encoder_hidden_states} (as {@link UNet#placeholders}
     *                 makes them) and, for the loss, {@code target}
     * @param lossName {@link UNet#LOSS} (MSE), {@link UNet#LOSS_L1}, or null for the output only
     * @param backward whether to compute the loss's gradients
     */
    Result run(Map<String, INDArray> ph, Map<String, INDArray> parameters, String lossName, boolean backward) {
        INDArray sample = ph.get(UNet.SAMPLE).castTo(DataType.FLOAT);
        int b = (int) sample.size(0);
        Pass s = new Pass(new Tape(backward), parameters, b);
        Var out = network(s, sample, ph.get(UNet.TIMESTEP), ph.get(UNet.ENCODER_HIDDEN_STATES));
        if (lossName == null) {
            return new Result(out.value(), Double.NaN, null);
        }
        if (ph.get(UNet.TARGET) == null) {
            throw new BadInputException("the UNet's loss needs the \"" + UNet.TARGET + "\" input [B, "
                    + c.outChannels() + ", h, w]; it was not given.");
        }
        INDArray target = ph.get(UNet.TARGET).castTo(DataType.FLOAT).dup('c');
        boolean l1 = lossName.equals(UNet.LOSS_L1);
        INDArray diff = out.value().sub(target);
        long n = diff.length();
        double loss = (l1 ? diff.norm1Number() : diff.norm2Number()).doubleValue();
        loss = l1 ? loss / n : loss * loss / n;
        if (!backward) {
            return new Result(out.value(), loss, null);
        }
        INDArray dOut = l1 ? signumDividedBy(diff, n) : diff.muli(2.0 / n);
        s.tape.backward(out, dOut);
        Map<String, INDArray> grads = new LinkedHashMap<>();
        s.params.forEach((name, v) -> grads.put(name, v.grad() != null ? v.grad()
                : Nd4j.zeros(DataType.FLOAT, v.value().shape())));
        return new Result(out.value(), loss, grads);
    }

    /** {@code sign(d) / n} in place (PyTorch's L1 gradient: 0 where the difference is 0). */
    private static INDArray signumDividedBy(INDArray d, long n) {
        FloatBuffer buf = d.data().asNioFloat();
        float inv = (float) (1.0 / n);
        for (int i = 0; i < d.length(); i++) {
            float v = buf.get(i);
            buf.put(i, v > 0 ? inv : v < 0 ? -inv : 0f);
        }
        return d;
    }

    private Var network(Pass s, INDArray sample, INDArray timestep, INDArray context) {
        Tape t = s.tape;
        int n = c.levels();
        int[] ch = c.blockOutChannels();
        INDArray in = sample.dup('c');
        if (c.centerInputSample()) {
            in.muli(2.0).subi(1.0);
        }
        s.context = t.constant(context.castTo(DataType.FLOAT).dup('c').reshape(-1, c.crossAttentionDim()));
        Var emb = t.constant(timeProjection(timestep, ch[0]));
        emb = Layers.activation(t, s.linear("time_embedding.linear_1", emb, true), act);
        emb = s.linear("time_embedding.linear_2", emb, true);
        s.embAct = Layers.activation(t, emb, act);

        Var x = s.conv("conv_in", t.constant(in), 1, 1);
        Deque<Var> skips = new ArrayDeque<>();
        skips.push(x);
        for (int i = 0; i < n; i++) {
            String p = "down_blocks." + i;
            boolean cross = c.downBlockTypes().get(i).equals(UNetConfig.CROSS_DOWN);
            for (int j = 0; j < c.layersPerBlock()[i]; j++) {
                x = resnet(s, p + ".resnets." + j, x, 1.0);
                if (cross) {
                    x = transformer(s, p + ".attentions." + j, x, c.attentionHeads()[i]);
                }
                skips.push(x);
            }
            if (i < n - 1) {
                Var padded = c.downsamplePadding() == 0 ? Layers.padBottomRight(t, x) : x;
                x = s.conv(p + ".downsamplers.0.conv", padded, 2, c.downsamplePadding());
                skips.push(x);
            }
        }

        double scale = c.midBlockScaleFactor();
        x = resnet(s, "mid_block.resnets.0", x, scale);
        x = transformer(s, "mid_block.attentions.0", x, c.attentionHeads()[n - 1]);
        x = resnet(s, "mid_block.resnets.1", x, scale);

        for (int i = 0; i < n; i++) {
            int level = n - 1 - i;
            String p = "up_blocks." + i;
            boolean cross = c.upBlockTypes().get(i).equals(UNetConfig.CROSS_UP);
            for (int j = 0; j < c.layersPerBlock()[level] + 1; j++) {
                x = Layers.concatChannels(t, x, skips.pop());
                x = resnet(s, p + ".resnets." + j, x, 1.0);
                if (cross) {
                    x = transformer(s, p + ".attentions." + j, x, c.attentionHeads()[level]);
                }
            }
            if (i < n - 1) {
                x = s.conv(p + ".upsamplers.0.conv", Layers.upsample2x(t, x), 1, 1);
            }
        }
        x = s.groupNorm("conv_norm_out", x, c.normEps(), act);
        return s.conv("conv_out", x, 1, 1);
    }

    /** As {@code UNet.timeProjection}: float32 frequencies and arguments, [cos, sin] when flipped. */
    private INDArray timeProjection(INDArray timestep, int dim) {
        int half = dim / 2;
        float logPeriod = (float) -Math.log(10000);
        float denom = (float) (half - c.freqShift());
        float[] t = timestep.castTo(DataType.FLOAT).toFloatVector();
        float[][] emb = new float[t.length][dim];
        for (int i = 0; i < half; i++) {
            float f = (float) Math.exp((logPeriod * i) / denom);
            for (int r = 0; r < t.length; r++) {
                float arg = t[r] * f;
                float sin = (float) Math.sin(arg);
                float cos = (float) Math.cos(arg);
                emb[r][i] = c.flipSinToCos() ? cos : sin;
                emb[r][half + i] = c.flipSinToCos() ? sin : cos;
            }
        }
        return Nd4j.createFromArray(emb); // an odd dim's last column stays 0
    }

    /** diffusers' {@code ResnetBlock2D}. */
    private Var resnet(Pass s, String p, Var x, double outputScale) {
        Tape t = s.tape;
        Var h = s.groupNorm(p + ".norm1", x, c.normEps(), act);
        h = s.conv(p + ".conv1", h, 1, 1);
        h = Layers.addPerChannel(t, h, s.linear(p + ".time_emb_proj", s.embAct, true));
        h = s.groupNorm(p + ".norm2", h, c.normEps(), act);
        h = s.conv(p + ".conv2", h, 1, 1);
        Var shortcut = s.params.containsKey(p + ".conv_shortcut.weight") ? s.conv(p + ".conv_shortcut", x, 1, 0) : x;
        Var y = Layers.add(t, shortcut, h);
        return outputScale == 1.0 ? y : Layers.scale(t, y, 1.0 / outputScale);
    }

    /**
     * diffusers' {@code Transformer2DModel}: GroupNorm, proj_in, self-attention, cross-attention, GEGLU, proj_out,
     * residual. A 1×1-convolution projection is the same product as a linear one on tokens, so both run as linear
     * layers on {@code [B·H·W, C]} (the convolution's weight keeps its {@code [out, in, 1, 1]} shape).
     */
    private Var transformer(Pass s, String p, Var x, int heads) {
        Tape t = s.tape;
        INDArray xv = x.value();
        int h = (int) xv.size(2);
        int w = (int) xv.size(3);
        Var tokens = Layers.toTokens(t, s.groupNorm(p + ".norm", x, UNet.TRANSFORMER_NORM_EPS, Activation.IDENTITY));
        Var hid = s.linear(p + ".proj_in", tokens, true);
        String blk = p + ".transformer_blocks.0";
        Var n1 = s.layerNorm(blk + ".norm1", hid);
        hid = Layers.add(t, hid, attention(s, blk + ".attn1", n1, n1, heads));
        Var n2 = s.layerNorm(blk + ".norm2", hid);
        hid = Layers.add(t, hid, attention(s, blk + ".attn2", n2, s.context, heads));
        Var n3 = s.layerNorm(blk + ".norm3", hid);
        Var ff = Layers.geglu(t, s.linear(blk + ".ff.net.0.proj", n3, true));
        hid = Layers.add(t, hid, s.linear(blk + ".ff.net.2", ff, true));
        Var y = Layers.fromTokens(t, s.linear(p + ".proj_out", hid, true), s.batch, h, w);
        return Layers.add(t, y, x);
    }

    /** diffusers' {@code Attention}: projections without bias, {@code to_out.0} with bias. */
    private Var attention(Pass s, String p, Var x, Var kv, int heads) {
        Var q = s.linear(p + ".to_q", x, false);
        Var k = s.linear(p + ".to_k", kv, false);
        Var v = s.linear(p + ".to_v", kv, false);
        return s.linear(p + ".to_out.0", Layers.attention(s.tape, q, k, v, s.batch, heads), true);
    }
}
