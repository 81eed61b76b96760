package dev.avatartrain.models.unet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HashMap;
import java.util.Map;

import dev.avatartrain.models.nn.Backend;
import dev.avatartrain.models.nn.Parity;
import dev.avatartrain.tensors.Safetensors;
import dev.avatartrain.testing.FormulaWeights;
import dev.avatartrain.testing.Originals;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The UNet at the default config's widths against the real diffusers 0.27.2 {@code UNet2DConditionModel}
 * (fixture from src/test/scripts/make_formula_fixtures.py): a 1280-channel DownBlock2D, the mid block with attention
 * heads of 160 channels, an UpBlock2D whose ResNets see 2560 channels and cross-attention blocks with heads of 40,
 * so {@code BlockedAttention} and the GEMM convolution backward run as they do in training. Weights come from
 * {@link FormulaWeights} on both sides; the output, the loss and sampled gradients are compared.
 */
class UNetWideParityTest {
    @Test
    void matchesDiffusersAtRealWidths() {
        Map<String, INDArray> fx = Safetensors.read(UNetParityTest.DIR.resolve("wide.safetensors")).tensors();
        UNet net = UNet.build(UNetConfig.read(UNetParityTest.DIR.resolve("wide.json")), DataType.FLOAT, 1,
                Backend.TAPE);
        String checked = "down_blocks.1.resnets.0.conv1.weight";
        INDArray first = fx.get("formula." + checked);
        INDArray ours = Nd4j.createFromArray(FormulaWeights.values(checked,
                net.parameters().get(checked).shape())).get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, 64));
        assertArrayEquals(first.toFloatVector(), ours.toFloatVector(), "the formula as the Python script computes it");
        FormulaWeights.fill(net);

        Map<String, INDArray> ph = new HashMap<>(net.placeholders(fx.get("io.sample"), fx.get("io.timestep"),
                fx.get("io.encoder_hidden_states")));
        ph.put(UNet.TARGET, fx.get("io.target"));
        Map<String, INDArray> out = net.forward(ph, UNet.OUT, UNet.LOSS);
        Parity.assertClose(fx.get("io.out"), out.get(UNet.OUT), 1e-4, "wide output");
        double loss = fx.get("io.loss").getDouble(0);
        assertEquals(loss, out.get(UNet.LOSS).getDouble(0), 1e-5 * loss, "wide loss");

        Map<String, INDArray> grads = net.gradients(ph, UNet.LOSS);
        int compared = 0;
        for (String key : fx.keySet()) {
            if (!key.startsWith("grad.") || !key.endsWith(".index")) continue;
            String p = key.substring(5, key.length() - 6);
            INDArray g = grads.get(p).reshape(-1);
            INDArray at = g.get(org.nd4j.linalg.indexing.NDArrayIndex.indices(fx.get(key).toLongVector()));
            Parity.assertClose(fx.get("grad." + p + ".value"), at, 1e-3, "gradient of " + p + " at sampled positions");
            double sumsq = fx.get("grad." + p + ".sumsq").getDouble(0);
            double ourSumsq = g.castTo(DataType.DOUBLE).norm2Number().doubleValue();
            assertEquals(sumsq, ourSumsq * ourSumsq, 2e-3 * sumsq, "sum of squares of the gradient of " + p);
            compared++;
        }
        assertEquals(15, compared, "gradients compared");
        Originals.liveCheck("diffusers at the default config's widths (make_formula_fixtures.py)", true,
                "src/test/scripts/make_formula_fixtures.py", "--check", "wide");
    }
}
