package dev.avatartrain.models.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.models.kernels.Activation;
import dev.avatartrain.tensors.Npy;
import dev.avatartrain.tensors.Npz;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The layer vocabulary on both backends against PyTorch (fixtures from src/test/scripts/make_network_fixtures.py),
 * strict loading, freezing, and gradients against finite differences (float64 graph) and between the backends.
 */
class NnBlocksTest {
    static final Map<String, Npy.NpyArray> F = Npz.read(Path.of("src/test/resources/fixtures/nn/blocks.npz"));

    static INDArray f(String k) {
        return F.get(k).toINDArray(DataType.FLOAT);
    }

    /** One layer (or a few) as a definition. */
    interface Block {
        <T> T apply(Ops<T> nn);
    }

    /** A network computing {@code block} as its output "y" and the losses "mse"/"l1" of y against "t". */
    static DefinedNetwork network(Block block, DataType dt, long seed, Backend backend) {
        return new DefinedNetwork("block", new Definition() {
            @Override
            public String output() {
                return "y";
            }

            @Override
            public <T> T forward(Ops<T> nn) {
                return block.apply(nn);
            }

            @Override
            public List<String> losses() {
                return List.of("mse", "l1");
            }

            @Override
            public <T> T loss(Ops<T> nn, String name, T out) {
                T t = nn.input("t", -1, -1, -1, -1);
                return name.equals("mse") ? nn.mseLoss(out, t) : nn.l1Loss(out, t);
            }
        }, dt, seed, backend);
    }

    static INDArray run(Backend backend, Map<String, INDArray> inputs, Block block) {
        DefinedNetwork net = network(block, DataType.FLOAT, 1, backend);
        Map<String, INDArray> w = new HashMap<>();
        for (String n : net.parameterNames()) {
            w.put(n, f(n));
        }
        net.load(w, "", "blocks.npz");
        return net.forward(inputs, "y").get("y");
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void blocksMatchPyTorch(Backend b) {
        Map<String, INDArray> x = Map.of("x", f("conv.x"));
        Map<String, INDArray> xl = Map.of("xl", f("linear.x"));
        Map<String, INDArray> xg = Map.of("xg", f("gn.x"));
        Map<String, Map.Entry<Map<String, INDArray>, Block>> cases = new java.util.LinkedHashMap<>();
        cases.put("conv", Map.entry(x, new Block() {
            public <T> T apply(Ops<T> nn) {
                return nn.conv2d("conv", nn.input("x", -1, 3, -1, -1), 3, 5, 3, 2, 1, true);
            }
        }));
        cases.put("conv1x1", Map.entry(x, new Block() {
            public <T> T apply(Ops<T> nn) {
                return nn.conv2d("conv1x1", nn.input("x", -1, 3, -1, -1), 3, 4, 1, 1, 0, false);
            }
        }));
        cases.put("linear", Map.entry(xl, new Block() {
            public <T> T apply(Ops<T> nn) {
                return nn.linear("linear", nn.input("xl", -1, -1, 6), 6, 4, true);
            }
        }));
        cases.put("ln", Map.entry(xl, new Block() {
            public <T> T apply(Ops<T> nn) {
                return nn.layerNorm("ln", nn.input("xl", -1, -1, 6), 6, 1e-6);
            }
        }));
        cases.put("gn", Map.entry(xg, new Block() {
            public <T> T apply(Ops<T> nn) {
                return nn.groupNorm("gn", nn.input("xg", -1, 8, -1, -1), 4, 8, 1e-5, Activation.IDENTITY);
            }
        }));
        for (Activation a : new Activation[] {Activation.SILU, Activation.GELU, Activation.RELU}) {
            cases.put(a.name().toLowerCase(), Map.entry(xg, new Block() {
                public <T> T apply(Ops<T> nn) {
                    return nn.activation(nn.input("xg", -1, 8, -1, -1), a);
                }
            }));
        }
        cases.put("up", Map.entry(xg, new Block() {
            public <T> T apply(Ops<T> nn) {
                return nn.upsample2x(nn.input("xg", -1, 8, -1, -1));
            }
        }));
        cases.forEach((k, c) -> Parity.assertClose(f(k + ".y"), run(b, c.getKey(), c.getValue()), 1e-4, k + " " + b));

        // the losses of y = -(-xg): the negations are exact
        DefinedNetwork net = network(new Block() {
            public <T> T apply(Ops<T> nn) {
                return nn.scale(nn.scale(nn.input("xg", -1, 8, -1, -1), -1), -1);
            }
        }, DataType.FLOAT, 1, b);
        Map<String, INDArray> out = net.forward(Map.of("xg", f("gn.x"), "t", f("loss.target")), "mse", "l1");
        Parity.assertClose(f("mse"), out.get("mse"), 1e-5, "mse " + b);
        Parity.assertClose(f("l1"), out.get("l1"), 1e-5, "l1 " + b);
    }

    static final Block CONV_GN = new Block() {
        public <T> T apply(Ops<T> nn) {
            T x = nn.input("x", -1, 3, -1, -1);
            return nn.groupNorm("b", nn.conv2d("a", x, 3, 4, 3, 1, 1, true), 2, 4, 1e-5, Activation.SILU);
        }
    };

    @Test
    void strictLoadingListsEveryProblemAndExportRoundTrips() {
        Network net = network(CONV_GN, DataType.FLOAT, 1, Backend.TAPE);
        Map<String, INDArray> w = new HashMap<>(net.export(DataType.HALF));
        assertEquals(DataType.HALF, w.get("a.weight").dataType());
        Map<String, INDArray> prefixed = new HashMap<>();
        w.forEach((k, v) -> prefixed.put("unet." + k, v));
        prefixed.put("other.ignored", Nd4j.ones(1));
        net.load(prefixed, "unet.", "ckpt.safetensors");

        w.remove("a.bias");
        w.put("b.weight", Nd4j.ones(5));
        w.put("c.weight", Nd4j.ones(1));
        BadInputException e = assertThrows(BadInputException.class, () -> net.load(w, "", "w.safetensors"));
        assertTrue(e.getMessage().contains("w.safetensors"), e.getMessage());
        assertTrue(e.getMessage().contains("1 missing (a.bias)"), e.getMessage());
        assertTrue(e.getMessage().contains("1 unexpected (c.weight)"), e.getMessage());
        assertTrue(e.getMessage().contains("b.weight is [5], expected [4]"), e.getMessage());
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void parametersArePyTorchInitialisedLiveAndFreezable(Backend backend) {
        DefinedNetwork net = network(CONV_GN, DataType.FLOAT, 3, backend);
        assertEquals(List.of("a.weight", "a.bias", "b.weight", "b.bias"), net.parameterNames());
        double bound = 1 / Math.sqrt(3 * 9);
        assertTrue(net.parameters().get("a.weight").amaxNumber().doubleValue() <= bound);
        assertEquals(Nd4j.ones(DataType.FLOAT, 4), net.parameters().get("b.weight"));
        // same seed, same values on either backend
        assertEquals(network(CONV_GN, DataType.FLOAT, 3, Backend.TAPE).parameters(), net.parameters());

        Map<String, INDArray> batch = Map.of("x", Nd4j.rand(DataType.FLOAT, 2, 3, 4, 4), "t",
                Nd4j.rand(DataType.FLOAT, 2, 4, 4, 4));
        Map<String, INDArray> grads = net.gradients(batch, "mse");
        assertEquals(net.parameterNames(), List.copyOf(grads.keySet()));
        INDArray y0 = net.forward(batch, "y").get("y");
        net.parameters().get("b.bias").addi(1); // live: changes the output
        assertTrue(y0.sub(net.forward(batch, "y").get("y")).amaxNumber().doubleValue() > 0.1);
        net.freeze();
        assertEquals(1, net.forward(batch, "mse").size());
        assertThrows(IllegalStateException.class, () -> net.gradients(batch, "mse"));
    }

    /** conv → GroupNorm+SiLU, tokens → LayerNorm → linear → GEGLU, attention: every kind of parameter. */
    static final Block COMPOSITE = new Block() {
        public <T> T apply(Ops<T> nn) {
            T x = nn.input("x", -1, 3, -1, -1);
            T h = nn.groupNorm("gn", nn.conv2d("conv", x, 3, 4, 3, 1, 1, true), 2, 4, 1e-5, Activation.SILU);
            T tok = nn.layerNorm("ln", nn.toTokens(h), 4, 1e-5);
            T q = nn.linear("q", tok, 4, 4, false);
            T a = nn.attention(q, tok, tok, 2, 2);
            T ff = nn.geglu(nn.linear("ff", a, 4, 8, true), 4);
            return nn.add(nn.fromTokens(ff, h), h);
        }
    };

    @Test
    void gradientsMatchFiniteDifferencesAndTheBackendsAgree() {
        DefinedNetwork graph = network(COMPOSITE, DataType.DOUBLE, 5, Backend.GRAPH);
        Nd4j.getRandom().setSeed(7);
        for (INDArray p : graph.parameters().values()) { // norm parameters away from 1/0
            p.addi(Nd4j.randn(DataType.DOUBLE, p.shape()).muli(0.3));
        }
        Map<String, INDArray> batch = Map.of("x", Nd4j.randn(DataType.DOUBLE, 2, 3, 3, 3), "t",
                Nd4j.randn(DataType.DOUBLE, 2, 4, 3, 3));
        Map<String, INDArray> grads = graph.gradients(batch, "mse");
        double eps = 1e-6;
        for (String name : graph.parameterNames()) {
            INDArray p = graph.parameters().get(name);
            for (long i : new long[] {0, p.length() / 2, p.length() - 1}) {
                double orig = p.getDouble(i);
                p.putScalar(i, orig + eps);
                double plus = graph.forward(batch, "mse").get("mse").getDouble(0);
                p.putScalar(i, orig - eps);
                double minus = graph.forward(batch, "mse").get("mse").getDouble(0);
                p.putScalar(i, orig);
                double numeric = (plus - minus) / (2 * eps);
                double analytic = grads.get(name).getDouble(i);
                double err = Math.abs(numeric - analytic) / Math.max(1e-8, Math.abs(numeric) + Math.abs(analytic));
                assertTrue(err < 1e-5 || Math.abs(numeric - analytic) < 1e-9,
                        name + "[" + i + "]: analytic " + analytic + " numeric " + numeric);
            }
        }
        DefinedNetwork tape = network(COMPOSITE, DataType.FLOAT, 5, Backend.TAPE);
        tape.load(graph.export(DataType.FLOAT), "", "the graph");
        for (String loss : new String[] {"mse", "l1"}) {
            Network.LossAndGradients g = graph.lossAndGradients(batch, loss);
            Network.LossAndGradients t = tape.lossAndGradients(batch, loss);
            assertEquals(g.loss(), t.loss(), 1e-5 * g.loss(), loss);
            for (String name : graph.parameterNames()) {
                Parity.assertClose(g.gradients().get(name), t.gradients().get(name), 1e-4, loss + " gradient of " + name);
            }
        }
    }
}
