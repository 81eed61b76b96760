package dev.avatartrain.models.unet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import dev.avatartrain.models.nn.Backend;
import dev.avatartrain.models.nn.Network;
import dev.avatartrain.models.nn.Parity;
import dev.avatartrain.tensors.Safetensors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The UNet against the real diffusers 0.27.2 {@code UNet2DConditionModel} on tiny configs (fixtures from
 * src/test/scripts/make_unet_fixtures.py): forward output to 1e-4 relative, MSE loss, and the gradients of a
 * few parameters — on both backends (the tape kernels and the SameDiff graph), which are
 * also compared with each other on every parameter's gradient and on the L1 loss.
 */
class UNetParityTest {
    static final Path DIR = Path.of("src/test/resources/fixtures/unet");

    static UNet load(String name, Map<String, INDArray> fx, Backend backend) {
        UNet net = UNet.build(UNetConfig.read(DIR.resolve(name + ".json")), DataType.FLOAT, 1, backend);
        net.load(fx, "unet.", name + ".safetensors");
        return net;
    }

    static final String[] NAMES = {"conv_int_heads", "linear_list_heads", "relu_one_head"};

    static Map<String, INDArray> placeholders(UNet net, Map<String, INDArray> fx) {
        Map<String, INDArray> ph = new java.util.HashMap<>(net.placeholders(fx.get("io.sample"), fx.get("io.timestep"),
                fx.get("io.encoder_hidden_states")));
        ph.put(UNet.TARGET, fx.get("io.target").castTo(DataType.FLOAT));
        return ph;
    }

    static Stream<Arguments> cases() {
        return Arrays.stream(NAMES).flatMap(n -> Arrays.stream(Backend.values()).map(b -> Arguments.of(n, b)));
    }

    @ParameterizedTest(name = "{0}, {1}")
    @MethodSource("cases")
    void matchesDiffusers(String name, Backend backend) {
        Map<String, INDArray> fx = Safetensors.read(DIR.resolve(name + ".safetensors")).tensors();
        UNet net = load(name, fx, backend);
        Map<String, INDArray> ph = placeholders(net, fx);
        Map<String, INDArray> out = net.forward(ph, UNet.OUT, UNet.LOSS);
        Parity.assertClose(fx.get("io.out"), out.get(UNet.OUT), 1e-4, name + " output");
        assertEquals(fx.get("io.loss").getDouble(0), out.get(UNet.LOSS).getDouble(0),
                1e-4 * fx.get("io.loss").getDouble(0), name + " loss");

        Map<String, INDArray> grads = net.gradients(ph, UNet.LOSS);
        int compared = 0;
        for (Map.Entry<String, INDArray> e : fx.entrySet()) {
            if (e.getKey().startsWith("grad.")) {
                String p = e.getKey().substring(5);
                Parity.assertClose(e.getValue(), grads.get(p), 1e-3, name + " gradient of " + p);
                compared++;
            }
        }
        assertEquals(true, compared >= 4, "fixture holds gradients");
    }

    @ParameterizedTest
    @ValueSource(strings = {"conv_int_heads", "linear_list_heads", "relu_one_head"})
    void tapeEqualsGraphOnEveryGradient(String name) {
        Map<String, INDArray> fx = Safetensors.read(DIR.resolve(name + ".safetensors")).tensors();
        UNet net = load(name, fx, Backend.TAPE);
        UNet graphNet = load(name, fx, Backend.GRAPH);
        Map<String, INDArray> ph = placeholders(net, fx);
        for (String loss : new String[] {UNet.LOSS, UNet.LOSS_L1}) {
            Network.LossAndGradients fused = net.lossAndGradients(ph, loss);
            Network.LossAndGradients graph = graphNet.lossAndGradients(ph, loss);
            assertEquals(graph.loss(), fused.loss(), 1e-5 * Math.abs(graph.loss()), name + " " + loss);
            assertEquals(net.parameterNames(), List.copyOf(fused.gradients().keySet()), "gradient order");
            for (String p : net.parameterNames()) {
                Parity.assertClose(graph.gradients().get(p), fused.gradients().get(p), 1e-3,
                        name + " " + loss + " gradient of " + p);
            }
        }
    }
}
