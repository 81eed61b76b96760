package dev.avatartrain.models.adapter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** Graph gradients against central finite differences in double precision; the loss's mask and weights. */
class AudioProjGradientTest {
    static final AudioProjConfig TINY = new AudioProjConfig(3, 2, 2, 3, 5, 2, 4, true);

    static AudioWindows.Batch batch(double[] weights) {
        Nd4j.getRandom().setSeed(11);
        List<INDArray> audio = List.of(Nd4j.randn(DataType.DOUBLE, 5, 2, 3), Nd4j.randn(DataType.DOUBLE, 2, 2, 3));
        List<INDArray> target = List.of(Nd4j.randn(DataType.DOUBLE, 3, 2, 4), Nd4j.randn(DataType.DOUBLE, 2, 2, 4));
        return AudioWindows.batch(audio, target, weights, TINY, DataType.DOUBLE);
    }

    static AudioProjModel model() {
        AudioProjModel net = AudioProjModel.build(TINY, DataType.DOUBLE, 5);
        Nd4j.getRandom().setSeed(3);
        for (INDArray p : net.parameters().values()) { // non-trivial norm parameters and biases
            p.addi(Nd4j.randn(DataType.DOUBLE, p.shape()).muli(0.3));
        }
        return net;
    }

    static double loss(AudioProjModel net, Map<String, INDArray> ph) {
        return net.forward(ph, AudioProjModel.LOSS).get(AudioProjModel.LOSS).getDouble(0);
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void matchesFiniteDifferences(boolean graph) {
        AudioProjModel net = model().useGraph(graph);
        Map<String, INDArray> ph = net.placeholders(batch(new double[] {0.7, 1.6}));
        Map<String, INDArray> grads = net.gradients(ph, AudioProjModel.LOSS);
        double eps = 1e-6;
        int checked = 0;
        for (String name : net.parameterNames()) {
            INDArray p = net.parameters().get(name);
            INDArray g = grads.get(name);
            for (long i : new long[] {0, p.length() / 3, p.length() / 2, p.length() - 1}) {
                double orig = p.getDouble(i);
                p.putScalar(i, orig + eps);
                double plus = loss(net, ph);
                p.putScalar(i, orig - eps);
                double minus = loss(net, ph);
                p.putScalar(i, orig);
                double numeric = (plus - minus) / (2 * eps);
                double analytic = g.getDouble(i);
                double err = Math.abs(numeric - analytic) / Math.max(1e-8, Math.abs(numeric) + Math.abs(analytic));
                assertTrue(err < 1e-5 || Math.abs(numeric - analytic) < 1e-9,
                        name + "[" + i + "]: analytic " + analytic + " numeric " + numeric);
                checked++;
            }
        }
        assertEquals(40, checked);
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void weightsScaleEachExampleAndPaddingIsIgnored(boolean graph) {
        AudioProjModel net = model().useGraph(graph);
        double only0 = loss(net, net.placeholders(batch(new double[] {1, 0})));
        double only1 = loss(net, net.placeholders(batch(new double[] {0, 1})));
        double both = loss(net, net.placeholders(batch(new double[] {2, 0.5})));
        assertEquals(2 * only0 + 0.5 * only1, both, 1e-12);

        // clip 1 has 2 of the batch's 3 frames: its padding frame changes neither the loss nor the gradients
        AudioWindows.Batch b = batch(new double[] {1, 1});
        Map<String, INDArray> ph = net.placeholders(b);
        double before = loss(net, ph);
        Map<String, INDArray> g1 = net.gradients(ph, AudioProjModel.LOSS);
        ph.get(AudioProjModel.TARGET).get(NDArrayIndex.point(1), NDArrayIndex.point(2)).assign(100);
        assertEquals(before, loss(net, ph), 1e-12);
        Map<String, INDArray> g2 = net.gradients(ph, AudioProjModel.LOSS);
        for (String n : net.parameterNames()) {
            assertEquals(0.0, g1.get(n).sub(g2.get(n)).amaxNumber().doubleValue(), 1e-12, n);
        }

        // all weights 1, no padding: plain F.mse_loss over the real frames
        INDArray out = net.forward(ph, AudioProjModel.OUT).get(AudioProjModel.OUT);
        INDArray d = out.sub(ph.get(AudioProjModel.TARGET));
        double sum = 0;
        for (int i = 0; i < 2; i++) {
            INDArray real = d.get(NDArrayIndex.point(i), NDArrayIndex.interval(0, b.frames()[i]));
            sum += real.mul(real).sumNumber().doubleValue();
        }
        assertEquals(sum / (5.0 * 2 * 4), before, 1e-12);
    }

    @Test
    void handWrittenPassEqualsTheGraph() {
        for (AudioProjConfig c : new AudioProjConfig[] {TINY, new AudioProjConfig(5, 3, 1, 4, 6, 3, 2, false)}) {
            AudioProjModel net = AudioProjModel.build(c, DataType.DOUBLE, 8);
            Nd4j.getRandom().setSeed(5);
            List<INDArray> audio = List.of(Nd4j.randn(DataType.DOUBLE, 9, c.blocks(), c.channels()),
                    Nd4j.randn(DataType.DOUBLE, 3, c.blocks(), c.channels()));
            List<INDArray> target = List.of(
                    Nd4j.randn(DataType.DOUBLE, AudioWindows.outputFrames(9, c.vaeScale()), c.contextTokens(), c.outputDim()),
                    Nd4j.randn(DataType.DOUBLE, AudioWindows.outputFrames(3, c.vaeScale()), c.contextTokens(), c.outputDim()));
            Map<String, INDArray> ph = net.placeholders(AudioWindows.batch(audio, target, new double[] {1.5, 0.25}, c,
                    DataType.DOUBLE));
            Map<String, INDArray> fusedOut = net.useGraph(false).forward(ph, AudioProjModel.OUT, AudioProjModel.LOSS);
            Map<String, INDArray> fusedGrad = net.gradients(ph, AudioProjModel.LOSS);
            Map<String, INDArray> graphOut = net.useGraph(true).forward(ph, AudioProjModel.OUT, AudioProjModel.LOSS);
            Map<String, INDArray> graphGrad = net.gradients(ph, AudioProjModel.LOSS);
            assertEquals(0.0, fusedOut.get(AudioProjModel.OUT).sub(graphOut.get(AudioProjModel.OUT)).amaxNumber()
                    .doubleValue(), 1e-12);
            assertEquals(graphOut.get(AudioProjModel.LOSS).getDouble(0), fusedOut.get(AudioProjModel.LOSS).getDouble(0),
                    1e-12);
            assertEquals(0, fusedOut.get(AudioProjModel.LOSS).rank());
            for (String n : net.parameterNames()) {
                assertEquals(0.0, fusedGrad.get(n).sub(graphGrad.get(n)).amaxNumber().doubleValue(), 1e-12, n);
            }
        }
    }
}
