package dev.avatartrain.models.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.avatartrain.models.adapter.AudioProjConfig;
import dev.avatartrain.models.adapter.AudioProjModel;
import dev.avatartrain.models.adapter.AudioWindows;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link Network#accumulateGradients}: the first micro-batch fills the sums, later ones add into the same arrays, and
 * the result is the scaled sum of each micro-batch's own gradients, on both backends.
 */
class GradientAccumulationTest {
    @ParameterizedTest
    @EnumSource(Backend.class)
    void microBatchesAddIntoTheSameArrays(Backend backend) {
        DataType dt = backend == Backend.TAPE ? DataType.FLOAT : DataType.DOUBLE;
        AudioProjConfig cfg = new AudioProjConfig(3, 4, 2, 16, 64, 4, 32, true);
        AudioProjModel net = AudioProjModel.build(cfg, dt, 5, backend);
        Nd4j.getRandom().setSeed(21);
        List<Map<String, INDArray>> batches = List.of(batch(net, cfg, dt), batch(net, cfg, dt), batch(net, cfg, dt));
        Map<String, INDArray> expected = new HashMap<>();
        double expectedLoss = 0;
        for (Map<String, INDArray> b : batches) {
            Network.LossAndGradients r = net.lossAndGradients(b, AudioProjModel.LOSS);
            expectedLoss += r.loss();
            r.gradients().forEach((n, g) -> expected.merge(n, g.mul(0.25), INDArray::add));
        }
        Map<String, INDArray> sums = new LinkedHashMap<>();
        double loss = net.accumulateGradients(batches.get(0), AudioProjModel.LOSS, 0.25, sums);
        Map<String, INDArray> first = new HashMap<>(sums);
        for (Map<String, INDArray> b : batches.subList(1, 3)) {
            loss += net.accumulateGradients(b, AudioProjModel.LOSS, 0.25, sums);
        }
        assertEquals(expectedLoss, loss, 1e-6 * Math.abs(expectedLoss));
        assertEquals(net.parameterNames(), List.copyOf(sums.keySet()));
        for (String n : net.parameterNames()) {
            assertSame(first.get(n), sums.get(n), n + ": added in place");
            Parity.assertClose(expected.get(n), sums.get(n), 1e-5, "sum of the gradients of " + n);
        }
    }

    private static Map<String, INDArray> batch(AudioProjModel net, AudioProjConfig cfg, DataType dt) {
        var audio = List.of(Nd4j.randn(DataType.FLOAT, 9, 2, 16), Nd4j.randn(DataType.FLOAT, 5, 2, 16));
        var target = List.of(Nd4j.randn(DataType.FLOAT, 3, 4, 32), Nd4j.randn(DataType.FLOAT, 2, 4, 32));
        return net.placeholders(AudioWindows.batch(audio, target, new double[] {1, 0.5}, cfg, dt));
    }
}
