package dev.avatartrain.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import dev.avatartrain.models.kernels.Activation;
import dev.avatartrain.models.kernels.Layers;
import dev.avatartrain.models.kernels.Tape;
import dev.avatartrain.models.nn.SameDiffLayers;
import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.convolution.Convolution;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Per-layer timing of the diffusers ResNet block (GroupNorm(32,64), SiLU, 3x3 conv 64->64, twice, skip) at
 * B=12, 32x32, forward and forward+backward, and each piece alone. Run: bench/layers.sh (also runs PyTorch).
 * Prints one line per case: name, median ms over the timed iterations.
 */
public final class LayersBench {
    static final int B = 12, C = 64, H = 32, W = 32, WARM = 3, ITERS = 10;

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("linear")) {
            linear();
            return;
        }
        INDArray x = Nd4j.randn(DataType.FLOAT, B, C, H, W);
        INDArray gout = Nd4j.randn(DataType.FLOAT, B, C, H, W);
        bench("conv3x3", x, gout, (g, in) -> g.conv2d("c", in, C, C, 3, 1, 1, true));
        bench("groupnorm", x, gout, (g, in) -> g.groupNorm("n", in, 32, C, 1e-5));
        bench("groupnorm_standardize", x, gout, LayersBench::standardizeGroupNorm);
        bench("silu", x, gout, SameDiffLayers::silu);
        bench("resnet_block", x, gout, (g, in) -> {
            SDVariable h = g.conv2d("conv1", g.silu(g.groupNorm("norm1", in, 32, C, 1e-5)), C, C, 3, 1, 1, true);
            h = g.conv2d("conv2", g.silu(g.groupNorm("norm2", h, 32, C, 1e-5)), C, C, 3, 1, 1, true);
            return in.add(h);
        });
        im2colConv(x);
        // the hand-written training path (models.kernels, as FusedUNet runs it)
        fused("fused conv3x3", x, gout, (t, in, p) -> Layers.conv2d(t, in, p.apply(C, C, 3, 3), p.apply(C), 1, 1));
        fused("fused groupnorm", x, gout, (t, in, p) -> Layers.groupNorm(t, in, p.apply(C), p.apply(C), 32, 1e-5,
                Activation.IDENTITY));
        fused("fused groupnorm_silu", x, gout, (t, in, p) -> Layers.groupNorm(t, in, p.apply(C), p.apply(C), 32, 1e-5,
                Activation.SILU));
        fused("fused silu", x, gout, (t, in, p) -> Layers.activation(t, in, Activation.SILU));
        fused("fused resnet_block", x, gout, (t, in, p) -> {
            Tape.Var h = Layers.groupNorm(t, in, p.apply(C), p.apply(C), 32, 1e-5, Activation.SILU);
            h = Layers.conv2d(t, h, p.apply(C, C, 3, 3), p.apply(C), 1, 1);
            h = Layers.groupNorm(t, h, p.apply(C), p.apply(C), 32, 1e-5, Activation.SILU);
            return Layers.add(t, in, Layers.conv2d(t, h, p.apply(C, C, 3, 3), p.apply(C), 1, 1));
        });
        // attention cores (q, k, v given) at the configs' shapes: tiny (8 heads of 4), "bench" (of 8 and 16), the
        // default config.json at B=2 (of 40, 80, 160) and a cross-attention over S=50 audio tokens
        attention(12, 1024, 1024, 8, 4);
        attention(12, 1024, 1024, 8, 8);
        attention(12, 256, 256, 8, 16);
        attention(12, 1024, 50, 8, 8);
        attention(2, 1024, 1024, 8, 40);
        attention(2, 256, 256, 8, 80);
        attention(2, 64, 64, 8, 160);
        attention(2, 1024, 50, 8, 40);
        // the transformer block's element-wise layers at "bench"'s first level (12 x 1024 tokens, 64 channels)
        INDArray proj = Nd4j.randn(DataType.FLOAT, B * 1024, 512);
        fused("fused geglu 12288x512", proj, Nd4j.randn(DataType.FLOAT, B * 1024, 256), (t, in, p) -> Layers.geglu(t, in));
        INDArray act = Nd4j.randn(DataType.FLOAT, B * 1024, 256);
        fused("fused gelu 12288x256", act, act, (t, in, p) -> Layers.activation(t, in, Activation.GELU));
        INDArray tokens = Nd4j.randn(DataType.FLOAT, B * 1024, 64);
        fused("fused layernorm 12288x64", tokens, tokens, (t, in, p) -> Layers.layerNorm(t, in, p.apply(64), p.apply(64),
                1e-5));
        // fixed cost of one SameDiff output()/calculateGradients() call: a per-channel scale on a 12x64x1x1 input
        bench("overhead_tiny", Nd4j.randn(DataType.FLOAT, B, C, 1, 1), Nd4j.randn(DataType.FLOAT, B, C, 1, 1),
                (g, in) -> in.mul(g.param("s", Nd4j.ones(DataType.FLOAT, 1, C, 1, 1))));
    }

    /** Attention core, {@code heads} of {@code d} channels, {@code n} queries and {@code m} keys per sample. */
    static void attention(int b, int n, int m, int heads, int d) {
        INDArray q = Nd4j.randn(DataType.FLOAT, (long) b * n, (long) heads * d);
        INDArray kv = Nd4j.randn(DataType.FLOAT, (long) b * m, (long) heads * d);
        fused(String.format("fused attention %dx%dx%dx%d B=%d", heads, n, m, d, b), q, q, (t, in, p) -> {
            Tape.Var c = t.parameter(kv);
            return Layers.attention(t, in, Layers.scale(t, c, 0.5), Layers.scale(t, c, -1.0), b, heads);
        });
    }

    interface Params {
        Tape.Var apply(long... shape);
    }

    interface FusedLayer {
        Tape.Var apply(Tape t, Tape.Var in, Params p);
    }

    /** A layer of the hand-written path: forward alone, and forward + backward of {@code sum(out · gout)}. */
    static void fused(String name, INDArray x, INDArray gout, FusedLayer layer) {
        List<INDArray> params = new ArrayList<>();
        Nd4j.getRandom().setSeed(7);
        report(name + " fwd", () -> run(x, gout, layer, params, false));
        report(name + " fwd+bwd", () -> run(x, gout, layer, params, true));
    }

    private static Object run(INDArray x, INDArray gout, FusedLayer layer, List<INDArray> params, boolean backward) {
        Tape t = new Tape(backward);
        int[] next = {0};
        Tape.Var in = t.parameter(x); // the input's gradient is needed, as inside a network
        Tape.Var out = layer.apply(t, in, shape -> {
            if (next[0] == params.size()) {
                params.add(Nd4j.randn(DataType.FLOAT, shape).muli(0.1));
            }
            return t.parameter(params.get(next[0]++));
        });
        if (backward) {
            t.backward(out, gout);
            return in.grad();
        }
        return out.value();
    }

    interface Layer {
        SDVariable apply(SameDiffLayers g, SDVariable in);
    }

    /** GroupNorm through libnd4j's fused standardize op (no eps: differs from PyTorch where variance is tiny). */
    static SDVariable standardizeGroupNorm(SameDiffLayers g, SDVariable x) {
        SameDiff sd = g.sd();
        SDVariable shape = x.shape();
        SDVariable grouped = sd.concat(0, shape.get(SDIndex.interval(0, 1)),
                sd.constant(Nd4j.createFromArray(32L, -1L)));
        SDVariable y = sd.reshape(sd.math().standardize(sd.reshape(x, grouped), 2), shape);
        SDVariable gamma = g.param("n.weight", Nd4j.ones(DataType.FLOAT, C)).reshape(1, C, 1, 1);
        SDVariable beta = g.param("n.bias", Nd4j.zeros(DataType.FLOAT, C)).reshape(1, C, 1, 1);
        return y.mul(gamma).add(beta);
    }

    static void bench(String name, INDArray x, INDArray gout, Layer layer) {
        SameDiffLayers g = new SameDiffLayers(DataType.FLOAT, 1);
        SDVariable xin = g.input("x", -1, C, -1, -1);
        SDVariable gv = g.input("g", -1, C, -1, -1);
        // SameDiff M2.1 silently returns no gradient for a placeholder that only feeds a reshape (GroupNorm) and
        // refuses graphs without parameters (SiLU), so every case starts with x + pre, pre a scalar parameter 0:
        // the layer's input is then an activation whose gradient is needed, as inside a network. (A broadcast add:
        // its add_bp costs 1-2 ms here, where a broadcast multiply's multiply_bp would cost 35-60 ms.)
        SDVariable in = xin.add(g.param("pre", Nd4j.scalar(0f)));
        SDVariable out = layer.apply(g, in).rename("out");
        out.mul(gv).sum().rename("loss");
        g.sd().setLossVariables("loss");
        Map<String, INDArray> ph = Map.of("x", x, "g", gout);
        List<String> wrt = new ArrayList<>(g.parameterNames());
        report(name + " fwd", () -> g.sd().output(ph, "out"));
        report(name + " fwd+bwd", () -> g.sd().calculateGradients(ph, wrt));
        if (PROFILE) {
            UNetBench.OpTimer t = new UNetBench.OpTimer();
            g.sd().setListeners(t);
            g.sd().calculateGradients(ph, wrt);
            g.sd().setListeners();
            t.print(name);
        }
    }

    static final boolean PROFILE = Boolean.getBoolean("profile");

    /** Forward 3x3 conv as im2col + one GEMM into reused buffers, for comparison with conv2d's forward. */
    static void im2colConv(INDArray x) {
        INDArray w = Nd4j.randn(DataType.FLOAT, C, C * 9);
        INDArray col = Nd4j.create(DataType.FLOAT, new long[] {B, C, 3, 3, H, W}, 'c');
        INDArray out = Nd4j.create(DataType.FLOAT, C, (long) B * H * W);
        report("conv3x3 im2col+gemm fwd", () -> {
            Convolution.im2col(x, 3, 3, 1, 1, 1, 1, 1, 1, false, col);
            // [B, C*9, H*W] -> [C*9, B*H*W] needs a permute copy; count it, as a real layer would pay it
            INDArray cols = col.reshape(B, C * 9, (long) H * W).permute(1, 0, 2).dup('c').reshape(C * 9, (long) B * H * W);
            Nd4j.gemm(w, cols, out, false, false, 1.0, 0.0);
            return out;
        });
        report("conv3x3 gemm only fwd", () -> {
            INDArray cols = Nd4j.create(DataType.FLOAT, C * 9, (long) B * H * W);
            return Nd4j.gemm(w, cols, out, false, false, 1.0, 0.0);
        });
    }

    /**
     * The adapter's proj1 shape (162 x 46080 -> 512): the graph backend's linear (mmul with transB) fwd+bwd against
     * the GEMMs with transpose flags into preallocated outputs. Prints GFLOP/s: the graph's gradient is taken
     * w.r.t. the parameters only (forward + weight gradient, 4·M·K·N); the GEMM case also computes dX (6·M·K·N).
     */
    static void linear() {
        int m = 162, k = 46080, n = 512;
        INDArray x = Nd4j.randn(DataType.FLOAT, m, k);
        INDArray gout = Nd4j.randn(DataType.FLOAT, m, n);
        SameDiffLayers g = new SameDiffLayers(DataType.FLOAT, 1);
        SDVariable in = g.input("x", -1, k);
        SDVariable gv = g.input("g", -1, n);
        g.linear("proj1", in, k, n, true).mul(gv).sum().rename("loss");
        g.sd().setLossVariables("loss");
        Map<String, INDArray> ph = Map.of("x", x, "g", gout);
        double gflop = 6.0 * m * k * n / 1e9;
        double t = report("linear proj1 fwd+bwd", () -> g.sd().calculateGradients(ph, g.parameterNames()));
        System.out.printf("java  linear proj1 SameDiff %.0f GFLOP/s%n", gflop * 4 / 6 / t * 1e3);
        INDArray w = Nd4j.randn(DataType.FLOAT, n, k);
        INDArray y = Nd4j.create(DataType.FLOAT, m, n), dw = Nd4j.create(DataType.FLOAT, n, k);
        INDArray dx = Nd4j.create(DataType.FLOAT, m, k);
        double t2 = report("linear proj1 3x gemm", () -> {
            Nd4j.gemm(x, w, y, false, true, 1.0, 0.0);
            Nd4j.gemm(gout, x, dw, true, false, 1.0, 0.0);
            return Nd4j.gemm(gout, w, dx, false, false, 1.0, 0.0);
        });
        System.out.printf("java  linear proj1 gemm %.0f GFLOP/s%n", gflop / t2 * 1e3);
    }

    static double report(String name, Supplier<Object> body) {
        for (int i = 0; i < WARM; i++) {
            body.get();
        }
        double[] t = new double[ITERS];
        for (int i = 0; i < ITERS; i++) {
            long s = System.nanoTime();
            body.get();
            t[i] = (System.nanoTime() - s) / 1e6;
        }
        Arrays.sort(t);
        System.out.printf("java  %-40s %8.1f ms (min %.1f)%n", name, t[ITERS / 2], t[0]);
        return t[ITERS / 2];
    }
}
