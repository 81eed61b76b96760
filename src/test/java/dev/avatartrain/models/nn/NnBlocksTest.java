package dev.avatartrain.models.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.tensors.Npy;
import dev.avatartrain.tensors.Npz;
import org.junit.jupiter.api.Test;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.validation.GradCheckUtil;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Parity of the shared blocks with PyTorch (fixtures from src/test/scripts/make_network_fixtures.py). */
class NnBlocksTest {
    static final Map<String, Npy.NpyArray> F = Npz.read(Path.of("src/test/resources/fixtures/nn/blocks.npz"));

    static INDArray f(String k) {
        return F.get(k).toINDArray(DataType.FLOAT);
    }

    static void assertClose(INDArray expected, INDArray actual, double tol, String what) {
        Parity.assertClose(expected, actual, tol, what);
    }

    @Test
    void blocksMatchPyTorch() {
        GraphBuilder g = new GraphBuilder(DataType.FLOAT, 1);
        SDVariable x = g.input("x", -1, 3, -1, -1);
        g.conv2d("conv", x, 3, 5, 3, 2, 1, true).rename("conv_y");
        g.conv2d("conv1x1", x, 3, 4, 1, 1, 0, false).rename("conv1x1_y");
        SDVariable xl = g.input("xl", -1, -1, 6);
        g.linear("linear", xl, 6, 4, true).rename("linear_y");
        g.layerNorm("ln", xl, 6, 1e-6, true).rename("ln_y");
        SDVariable xg = g.input("xg", -1, 8, -1, -1);
        g.groupNorm("gn", xg, 4, 8, 1e-5).rename("gn_y");
        g.silu(xg).rename("silu_y");
        g.gelu(xg).rename("gelu_y");
        g.relu(xg).rename("relu_y");
        g.upsampleNearest2x(xg).rename("up_y");
        SDVariable t = g.input("t", -1, 8, -1, -1);
        g.mseLoss("mse", xg, t);
        g.l1Loss("l1", xg, t);
        Network net = g.network();
        Map<String, INDArray> w = new HashMap<>();
        for (String n : net.parameterNames()) {
            w.put(n, f(n));
        }
        net.load(w, "", "blocks.npz");
        Map<String, INDArray> out = net.forward(Map.of("x", f("conv.x"), "xl", f("linear.x"), "xg", f("gn.x"),
                "t", f("loss.target")), "conv_y", "conv1x1_y", "linear_y", "ln_y", "gn_y", "silu_y", "gelu_y",
                "relu_y", "up_y", "mse", "l1");
        for (String k : new String[] {"conv", "conv1x1", "linear", "ln", "gn", "silu", "gelu", "relu", "up"}) {
            assertClose(f(k + ".y"), out.get(k + "_y"), 1e-4, k);
        }
        assertClose(f("mse"), out.get("mse"), 1e-5, "mse");
        assertClose(f("l1"), out.get("l1"), 1e-5, "l1");
    }

    @Test
    void strictLoadingListsEveryProblemAndExportRoundTrips() {
        GraphBuilder g = new GraphBuilder(DataType.FLOAT, 1);
        SDVariable x = g.input("x", -1, 3, -1, -1);
        g.conv2d("a", x, 3, 4, 3, 1, 1, true);
        g.groupNorm("b", x, 3, 3, 1e-5);
        Network net = g.network();
        Map<String, INDArray> w = new HashMap<>(net.export(DataType.HALF));
        assertEquals(DataType.HALF, w.get("a.weight").dataType());
        Map<String, INDArray> prefixed = new HashMap<>();
        w.forEach((k, v) -> prefixed.put("unet." + k, v));
        prefixed.put("other.ignored", Nd4j.ones(1));
        net.load(prefixed, "unet.", "ckpt.safetensors");

        w.remove("a.bias");
        w.put("b.weight", Nd4j.ones(4));
        w.put("c.weight", Nd4j.ones(1));
        BadInputException e = assertThrows(BadInputException.class, () -> net.load(w, "", "w.safetensors"));
        assertTrue(e.getMessage().contains("w.safetensors"), e.getMessage());
        assertTrue(e.getMessage().contains("1 missing (a.bias)"), e.getMessage());
        assertTrue(e.getMessage().contains("1 unexpected (c.weight)"), e.getMessage());
        assertTrue(e.getMessage().contains("b.weight is [4], expected [3]"), e.getMessage());
    }

    @Test
    void gradientsAndFreeze() {
        GraphBuilder g = new GraphBuilder(DataType.FLOAT, 3);
        SDVariable x = g.input("x", -1, 4);
        SDVariable t = g.input("t", -1, 2);
        g.mseLoss("loss", g.linear("fc", x, 4, 2, true), t);
        Network net = g.network();
        Map<String, INDArray> batch = Map.of("x", Nd4j.rand(DataType.FLOAT, 3, 4), "t", Nd4j.rand(DataType.FLOAT, 3, 2));
        Map<String, INDArray> grads = net.gradients(batch, "loss");
        assertEquals(net.parameterNames(), java.util.List.copyOf(grads.keySet()));
        assertEquals(2, grads.get("fc.weight").rows());
        INDArray before = net.parameters().get("fc.weight").dup();
        net.freeze();
        assertEquals(before, net.parameters().get("fc.weight"));
        assertEquals(1, net.forward(batch, "loss").size());
    }

    /**
     * Finite-difference checks (double precision) of the composed GroupNorm / LayerNorm / GELU / linear / conv.
     * Inputs are variables, not placeholders: M2.1 computes placeholder gradients only where an op on the path
     * to a parameter happens to produce them, and GradCheckUtil expects one for every placeholder.
     */
    @Test
    void gradientChecksInDouble() {
        Nd4j.getRandom().setSeed(7);
        GraphBuilder g = new GraphBuilder(DataType.DOUBLE, 5);
        SDVariable x = g.param("x", Nd4j.randn(DataType.DOUBLE, 2, 4, 3, 3));
        SDVariable y = g.groupNorm("gn", g.conv2d("conv", x, 4, 4, 3, 1, 1, true), 2, 4, 1e-5);
        y = g.silu(y);
        SDVariable z = g.param("z", Nd4j.randn(DataType.DOUBLE, 2, 2, 3));
        SDVariable l = g.linear("fc", g.layerNorm("ln", z, 3, 1e-5, true), 3, 2, true);
        y.mul(y).mean().add(g.gelu(l).mul(l).sum()).rename("loss");
        g.sd().setLossVariables("loss");
        // move the norm affine parameters away from 1/0 so their gradients are exercised
        g.sd().getVariable("gn.weight").getArr().assign(Nd4j.randn(DataType.DOUBLE, 4));
        g.sd().getVariable("ln.bias").getArr().assign(Nd4j.randn(DataType.DOUBLE, 3));
        DataType before = Nd4j.dataType();
        Nd4j.setDefaultDataTypes(DataType.DOUBLE, DataType.DOUBLE);
        try {
            assertTrue(GradCheckUtil.checkGradients(g.sd(), Map.of(), 1e-6, 1e-4, 1e-8, false, false));
        } finally {
            Nd4j.setDefaultDataTypes(before, before);
        }
    }
}
