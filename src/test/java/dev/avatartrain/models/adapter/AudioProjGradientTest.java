package dev.avatartrain.models.adapter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import dev.avatartrain.models.nn.Backend;
import dev.avatartrain.models.nn.Parity;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Gradients against central finite differences in double precision (the graph backend); the loss's mask and weights
 * and the tape against the graph on every parameter.
 */
class AudioProjGradientTest {
    static final AudioProjConfig TINY = new AudioProjConfig(3, 2, 2, 3, 5, 2, 4, true);

    static AudioWindows.Batch batch(double[] weights, DataType dt) {
        Nd4j.getRandom().setSeed(11);
        List<INDArray> audio = List.of(Nd4j.randn(DataType.DOUBLE, 5, 2, 3), Nd4j.randn(DataType.DOUBLE, 2, 2, 3));
        List<INDArray> target = List.of(Nd4j.randn(DataType.DOUBLE, 3, 2, 4), Nd4j.randn(DataType.DOUBLE, 2, 2, 4));
        return AudioWindows.batch(audio, target, weights, TINY, dt);
    }

    /** Float64 on the graph, float32 on the tape; the same parameters either way. */
    static AudioProjModel model(Backend backend) {
        DataType dt = backend == Backend.TAPE ? DataType.FLOAT : DataType.DOUBLE;
        AudioProjModel net = AudioProjModel.build(TINY, dt, 5, backend);
        Nd4j.getRandom().setSeed(3);
        for (INDArray p : net.parameters().values()) { // non-trivial norm parameters and biases
            p.addi(Nd4j.randn(DataType.DOUBLE, p.shape()).muli(0.3).castTo(dt));
        }
        return net;
    }

    static double loss(AudioProjModel net, Map<String, INDArray> ph) {
        return net.forward(ph, AudioProjModel.LOSS).get(AudioProjModel.LOSS).getDouble(0);
    }

    @Test
    void matchesFiniteDifferences() {
        AudioProjModel net = model(Backend.GRAPH);
        Map<String, INDArray> ph = net.placeholders(batch(new double[] {0.7, 1.6}, DataType.DOUBLE));
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
    @EnumSource(Backend.class)
    void weightsScaleEachExampleAndPaddingIsIgnored(Backend backend) {
        AudioProjModel net = model(backend);
        DataType dt = net.dataType();
        double tol = dt == DataType.DOUBLE ? 1e-12 : 1e-6;
        double only0 = loss(net, net.placeholders(batch(new double[] {1, 0}, dt)));
        double only1 = loss(net, net.placeholders(batch(new double[] {0, 1}, dt)));
        double both = loss(net, net.placeholders(batch(new double[] {2, 0.5}, dt)));
        assertEquals(2 * only0 + 0.5 * only1, both, tol * Math.abs(both));

        // clip 1 has 2 of the batch's 3 frames: its padding frame changes neither the loss nor the gradients
        AudioWindows.Batch b = batch(new double[] {1, 1}, dt);
        Map<String, INDArray> ph = net.placeholders(b);
        double before = loss(net, ph);
        Map<String, INDArray> g1 = net.gradients(ph, AudioProjModel.LOSS);
        ph.get(AudioProjModel.TARGET).get(NDArrayIndex.point(1), NDArrayIndex.point(2)).assign(100);
        assertEquals(before, loss(net, ph), 0.0);
        Map<String, INDArray> g2 = net.gradients(ph, AudioProjModel.LOSS);
        for (String n : net.parameterNames()) {
            assertEquals(0.0, g1.get(n).sub(g2.get(n)).amaxNumber().doubleValue(), 0.0, n);
        }

        // all weights 1, no padding: plain F.mse_loss over the real frames
        INDArray out = net.forward(ph, AudioProjModel.OUT).get(AudioProjModel.OUT);
        INDArray d = out.sub(ph.get(AudioProjModel.TARGET));
        double sum = 0;
        for (int i = 0; i < 2; i++) {
            INDArray real = d.get(NDArrayIndex.point(i), NDArrayIndex.interval(0, b.frames()[i]));
            sum += real.mul(real).sumNumber().doubleValue();
        }
        assertEquals(sum / (5.0 * 2 * 4), before, tol * before);
    }

    /** The tape (float32) against the graph (float64) with the same parameters, on every parameter's gradient. */
    @Test
    void tapeEqualsTheGraph() {
        for (AudioProjConfig c : new AudioProjConfig[] {TINY, new AudioProjConfig(5, 3, 1, 4, 6, 3, 2, false)}) {
            AudioProjModel graph = AudioProjModel.build(c, DataType.DOUBLE, 8, Backend.GRAPH);
            AudioProjModel tape = AudioProjModel.build(c, DataType.FLOAT, 8, Backend.TAPE);
            tape.load(graph.export(DataType.FLOAT), "", "the graph");
            Nd4j.getRandom().setSeed(5);
            List<INDArray> audio = List.of(Nd4j.randn(DataType.DOUBLE, 9, c.blocks(), c.channels()),
                    Nd4j.randn(DataType.DOUBLE, 3, c.blocks(), c.channels()));
            List<INDArray> target = List.of(
                    Nd4j.randn(DataType.DOUBLE, AudioWindows.outputFrames(9, c.vaeScale()), c.contextTokens(), c.outputDim()),
                    Nd4j.randn(DataType.DOUBLE, AudioWindows.outputFrames(3, c.vaeScale()), c.contextTokens(), c.outputDim()));
            Map<String, INDArray> ph = graph.placeholders(AudioWindows.batch(audio, target, new double[] {1.5, 0.25}, c,
                    DataType.DOUBLE));
            Map<String, INDArray> tapeOut = tape.forward(ph, AudioProjModel.OUT, AudioProjModel.LOSS);
            Map<String, INDArray> graphOut = graph.forward(ph, AudioProjModel.OUT, AudioProjModel.LOSS);
            Parity.assertClose(graphOut.get(AudioProjModel.OUT), tapeOut.get(AudioProjModel.OUT), 1e-5, "output");
            double loss = graphOut.get(AudioProjModel.LOSS).getDouble(0);
            assertEquals(loss, tapeOut.get(AudioProjModel.LOSS).getDouble(0), 1e-5 * loss);
            assertEquals(0, tapeOut.get(AudioProjModel.LOSS).rank());
            Map<String, INDArray> tapeGrad = tape.gradients(ph, AudioProjModel.LOSS);
            Map<String, INDArray> graphGrad = graph.gradients(ph, AudioProjModel.LOSS);
            assertEquals(graph.parameterNames(), List.copyOf(tapeGrad.keySet()));
            for (String n : graph.parameterNames()) {
                Parity.assertClose(graphGrad.get(n), tapeGrad.get(n), 1e-4, "gradient of " + n);
            }
        }
    }
}
