package dev.avatartrain.models.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import dev.avatartrain.models.kernels.Activation;
import dev.avatartrain.models.nn.Backend;
import dev.avatartrain.models.nn.DefinedNetwork;
import dev.avatartrain.models.nn.Definition;
import dev.avatartrain.models.nn.Network.LossAndGradients;
import dev.avatartrain.models.nn.Ops;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Every op of {@link CudaOps}, forward and backward, against the CPU tape on the same definition and weights: small
 * networks that chain the ops between parameterised layers and end in a loss, compared on the loss and on every
 * parameter's gradient (which carries each op's backward pass). Tolerances: float32 relative 1e-3 of the largest
 * magnitude (cuBLAS/cuDNN sum in other orders than the CPU); bfloat16 5e-2 (8 significant bits per stored
 * activation). Needs an NVIDIA GPU: tagged {@code gpu} (the pom runs these only where one is found).
 */
@Tag(GpuTestSummary.TAG)
class CudaOpsGpuTest {
    private static CudaContext cx;

    @BeforeAll
    static void open() {
        System.setProperty(CudaLibraries.PATH_PROPERTY, NvrtcVenv.gpuLibraryPath());
        cx = new CudaContext(0);
    }

    @AfterAll
    static void close() {
        if (cx != null) {
            cx.close();
        }
    }

    /** A network of one definition, built on the CPU tape. */
    private static final class Net extends DefinedNetwork {
        Net(Definition d) {
            super("op test", d, DataType.FLOAT, 5, Backend.TAPE);
        }
    }

    /** A definition from its forward pass; its loss is the MSE of the output against the input "target". */
    private abstract static class Case implements Definition {
        @Override
        public String output() {
            return "out";
        }

        @Override
        public List<String> losses() {
            return List.of("loss");
        }

        @Override
        public <T> T loss(Ops<T> nn, String name, T out) {
            return nn.mseLoss(out, nn.input("target", -1));
        }
    }

    /** Tokens: linear, GELU, layer norm, GEGLU, attention with heads, tanh clamp, affine, sums and views. */
    private static final class Tokens extends Case {
        @Override
        public <T> T forward(Ops<T> nn) {
            T x = nn.input("x", 2, 6, 16);
            T h = nn.linear("in", x, 16, 16, true);
            h = nn.activation(h, Activation.GELU);
            h = nn.layerNorm("norm", h, 16, 1e-5);
            T ctx = nn.linear("ctx", nn.input("ctx", 2, 5, 16), 16, 16, false);
            T q = nn.linear("q", h, 16, 16, false);
            T a = nn.attention(q, nn.linear("k", ctx, 16, 16, false), nn.linear("v", ctx, 16, 16, false), 2, 8);
            h = nn.add(h, a);
            h = nn.geglu(nn.linear("ff", h, 16, 32, true), 16);
            h = nn.tanhClamp(nn.affine(h, 1.5, 0.1), 2.0);
            h = nn.flatten(nn.splitLast(h, 4), 2);
            return nn.linear("out", h, 16, 8, true);
        }
    }

    /** Images: convolutions (stride 1 and 2), group norm + SiLU, padding, upsampling, concat, tokens, timestep. */
    private static final class Images extends Case {
        @Override
        public <T> T forward(Ops<T> nn) {
            T x = nn.input("x", 2, 4, 8, 8);
            T h = nn.conv2d("conv_in", x, 4, 8, 3, 1, 1, true);
            h = nn.groupNorm("gn", h, 4, 8, 1e-5, Activation.SILU);
            T t = nn.linear("temb", nn.timestepEmbedding(nn.input("t", 2), 8, 1, true), 8, 8, true);
            h = nn.addPerChannel(h, t);
            T d = nn.conv2d("down", nn.padBottomRight(h), 8, 8, 3, 2, 0, true);
            T u = nn.upsample2x(d);
            h = nn.concat(1, h, u);
            T tok = nn.linear("proj", nn.toTokens(h), 16, 16, false);
            h = nn.fromTokens(tok, h);
            h = nn.relu(h);
            return nn.conv2d("conv_out", h, 16, 3, 1, 1, 0, false);
        }

        @Override
        public <T> T loss(Ops<T> nn, String name, T out) {
            return nn.add(nn.mseLoss(out, nn.input("target", -1)), nn.l1Loss(out, nn.input("target", -1)));
        }
    }

    /** The row-weighted MSE of the UNet's masked loss. */
    private static final class Weighted extends Case {
        @Override
        public <T> T forward(Ops<T> nn) {
            return nn.linear("lin", nn.input("x", 3, 4, 8), 8, 8, true);
        }

        @Override
        public <T> T loss(Ops<T> nn, String name, T out) {
            return nn.rowWeightedMse(out, nn.input("target", -1), nn.input("w", 3, 4));
        }
    }

    private static void compare(Definition def, Map<String, INDArray> inputs, DType dtype) {
        Net net = new Net(def);
        LossAndGradients cpu = net.lossAndGradients(inputs, "loss");
        LossAndGradients gpu;
        try (CudaNetwork cuda = new CudaNetwork(net, cx, dtype)) {
            gpu = cuda.lossAndGradients(inputs, "loss");
        }
        double tol = dtype == DType.F32 ? 1e-3 : 5e-2;
        assertEquals(cpu.loss(), gpu.loss(), tol * Math.max(1, Math.abs(cpu.loss())), "loss");
        assertEquals(cpu.gradients().keySet(), gpu.gradients().keySet());
        for (String n : cpu.gradients().keySet()) {
            INDArray c = cpu.gradients().get(n);
            INDArray g = gpu.gradients().get(n);
            double scale = Math.max(1e-6, c.amaxNumber().doubleValue());
            double err = c.sub(g).amaxNumber().doubleValue() / scale;
            assertTrue(err <= tol, n + ": max error " + err + " of " + scale + " (" + dtype + ")");
        }
    }

    private static Map<String, INDArray> randn(Object... nameShape) {
        Nd4j.getRandom().setSeed(11);
        Map<String, INDArray> m = new HashMap<>();
        for (int i = 0; i < nameShape.length; i += 2) {
            m.put((String) nameShape[i], Nd4j.randn(DataType.FLOAT, (long[]) nameShape[i + 1]));
        }
        return m;
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void tokenOps(DType dtype) {
        compare(new Tokens(), randn("x", new long[] {2, 6, 16}, "ctx", new long[] {2, 5, 16}, "target",
                new long[] {2, 6, 8}), dtype);
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void imageOps(DType dtype) {
        Map<String, INDArray> in = randn("x", new long[] {2, 4, 8, 8}, "target", new long[] {2, 3, 8, 8});
        in.put("t", Nd4j.createFromArray(10f, 500f));
        compare(new Images(), in, dtype);
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void rowWeightedLoss(DType dtype) {
        Map<String, INDArray> in = randn("x", new long[] {3, 4, 8}, "target", new long[] {3, 4, 8});
        in.put("w", Nd4j.rand(DataType.FLOAT, 3, 4));
        compare(new Weighted(), in, dtype);
    }

    @ParameterizedTest
    @EnumSource(DType.class)
    void adamWMovesWeightsLikeTheFormula(DType dtype) {
        Net net = new Net(new Weighted());
        Map<String, INDArray> in = randn("x", new long[] {3, 4, 8}, "target", new long[] {3, 4, 8});
        in.put("w", Nd4j.ones(DataType.FLOAT, 3, 4));
        INDArray w0 = net.parameters().get("lin.weight").dup();
        INDArray g = net.lossAndGradients(in, "loss").gradients().get("lin.weight");
        try (CudaNetwork cuda = new CudaNetwork(net, cx, dtype)) {
            cuda.step(in, "loss", new CudaNetwork.AdamW(1e-2, 0.9, 0.999, 1e-8, 0.1), 1.0);
            cuda.copyToHost();
        }
        // first AdamW step: p·(1 − lr·wd) − lr·g/(|g| + eps) elementwise
        INDArray expected = w0.mul(1 - 1e-2 * 0.1).subi(g.div(Nd4j.math().abs(g).addi(1e-8)).muli(1e-2));
        double err = expected.sub(net.parameters().get("lin.weight")).amaxNumber().doubleValue();
        assertTrue(err < (dtype == DType.F32 ? 1e-5 : 1e-3), "AdamW error " + err);
    }
}
