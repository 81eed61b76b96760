package dev.avatartrain.models.unet;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.Map;

import dev.avatartrain.models.nn.Parity;
import dev.avatartrain.tensors.Safetensors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The UNet against the real diffusers 0.27.2 {@code UNet2DConditionModel} on tiny configs (fixtures from
 * src/test/scripts/make_unet_fixtures.py): forward output to 1e-4 relative, MSE loss, and the gradients of a
 * few parameters.
 */
class UNetParityTest {
    static final Path DIR = Path.of("src/test/resources/fixtures/unet");

    static UNet load(String name, Map<String, INDArray> fx) {
        UNet net = UNet.build(UNetConfig.read(DIR.resolve(name + ".json")), DataType.FLOAT, 1);
        net.load(fx, "unet.", name + ".safetensors");
        return net;
    }

    @ParameterizedTest
    @ValueSource(strings = {"conv_int_heads", "linear_list_heads", "relu_one_head"})
    void matchesDiffusers(String name) {
        Map<String, INDArray> fx = Safetensors.read(DIR.resolve(name + ".safetensors")).tensors();
        UNet net = load(name, fx);
        Map<String, INDArray> ph = new java.util.HashMap<>(net.placeholders(fx.get("io.sample"), fx.get("io.timestep"),
                fx.get("io.encoder_hidden_states")));
        ph.put(UNet.TARGET, fx.get("io.target").castTo(DataType.FLOAT));
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
}
