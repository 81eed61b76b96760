package dev.avatartrain.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import dev.avatartrain.models.adapter.AudioProjConfig;
import dev.avatartrain.models.adapter.AudioProjModel;
import dev.avatartrain.models.adapter.AudioWindows;
import dev.avatartrain.models.nn.Backend;
import dev.avatartrain.train.optim.AdamW;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.AdamUpdater;
import org.nd4j.linalg.learning.config.Adam;

/**
 * InfiniteTalk's audio adapter (74.2 M parameters) at B=2, T=81 (21 output frames), L=12, C=768: forward, forward +
 * backward, and a full AdamW step (gradients + ND4J's Adam updater + decoupled weight decay). Run: bench/adapter.sh
 * [--graph] (also runs PyTorch; --graph adds the SameDiff graph's forward and forward+backward). Prints one line per case: median ms over the timed iterations, and GFLOP/s.
 */
public final class AdapterBench {
    static final int B = 2, T = 81, WARM = 2, ITERS = 5;
    static final double LR = 1e-4, WD = 0.01;

    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("--parts")) {
            updateParts();
            return;
        }
        AudioProjConfig c = AudioProjConfig.defaults();
        AudioProjModel net = AudioProjModel.build(c, DataType.FLOAT, 1);
        Nd4j.getRandom().setSeed(1);
        List<INDArray> audio = new ArrayList<>();
        List<INDArray> target = new ArrayList<>();
        for (int i = 0; i < B; i++) {
            audio.add(Nd4j.randn(DataType.FLOAT, T, c.blocks(), c.channels()));
            target.add(Nd4j.randn(DataType.FLOAT, AudioWindows.outputFrames(T, c.vaeScale()), c.contextTokens(),
                    c.outputDim()));
        }
        double[] fw = new double[1];
        AudioWindows.Batch batch = report("windowing (AudioWindows.batch)", 0,
                () -> AudioWindows.batch(audio, target, null, c, DataType.FLOAT), fw);
        Map<String, INDArray> ph = net.placeholders(batch);
        double fwdFlop = forwardFlop(c, B, batch.outputFrames());
        // backward: weight gradients of every layer, input gradients of all but proj1/proj1_vf (inputs are data)
        double inputGrad = 2.0 * B * (c.inputDim() + (batch.outputFrames() - 1) * c.inputDimVf()) * c.intermediateDim();
        double stepFlop = 3 * fwdFlop - inputGrad;
        System.out.printf("java  params %.1f M, forward %.2f GFLOP, forward+backward %.2f GFLOP%n",
                c.parameterCount() / 1e6, fwdFlop / 1e9, stepFlop / 1e9);
        boolean graph = args.length > 0 && args[0].equals("--graph");
        if (graph) {
            AudioProjModel g = AudioProjModel.build(c, DataType.FLOAT, 1, Backend.GRAPH);
            report("SameDiff graph forward", fwdFlop, () -> g.forward(ph, AudioProjModel.OUT), fw);
            report("SameDiff graph forward+backward", stepFlop, () -> g.gradients(ph, AudioProjModel.LOSS), fw);
        }
        report("forward", fwdFlop, () -> net.forward(ph, AudioProjModel.OUT), fw);
        report("forward+backward", stepFlop, () -> net.gradients(ph, AudioProjModel.LOSS), fw);

        Map<String, AdamUpdater> updaters = new LinkedHashMap<>();
        for (Map.Entry<String, INDArray> e : net.parameters().entrySet()) {
            AdamUpdater u = new AdamUpdater(new Adam(LR));
            long n = e.getValue().length();
            u.setStateViewArray(Nd4j.zeros(DataType.FLOAT, 1, 2 * n), e.getValue().shape(), 'c', true);
            updaters.put(e.getKey(), u);
        }
        int[] step = {0};
        Map<String, INDArray> fixedGrads = net.gradients(ph, AudioProjModel.LOSS);
        report("AdamW update alone", 0, () -> {
            for (Map.Entry<String, INDArray> e : net.parameters().entrySet()) {
                INDArray grad = fixedGrads.get(e.getKey()).dup();
                updaters.get(e.getKey()).applyUpdater(grad, step[0], 0);
                e.getValue().muli(1 - LR * WD).subi(grad);
            }
            return step[0]++;
        }, fw);
        // the training engine's optimizer (train.optim.AdamW: one pass over the float buffers on every core)
        AdamW engine = new AdamW(0.9, 0.999, 1e-8, WD);
        report("engine AdamW update alone", 0, () -> {
            engine.step(net.parameters(), fixedGrads, LR);
            return engine.stepCount();
        }, fw);
        List<Double> gradMs = new ArrayList<>();
        report("AdamW step, engine optimizer", stepFlop, () -> {
            long s0 = System.nanoTime();
            Map<String, INDArray> g = net.gradients(ph, AudioProjModel.LOSS);
            gradMs.add((System.nanoTime() - s0) / 1e6);
            engine.step(net.parameters(), g, LR);
            net.recycle(g); // as the engine's StepRunner does
            return engine.stepCount();
        }, fw);
        System.out.println("java    (of which gradients, ms per step: " + gradMs + ")");
        report("AdamW step", stepFlop, () -> {
            Map<String, INDArray> g = net.gradients(ph, AudioProjModel.LOSS);
            for (Map.Entry<String, INDArray> e : net.parameters().entrySet()) {
                INDArray grad = g.get(e.getKey());
                updaters.get(e.getKey()).applyUpdater(grad, step[0], 0);
                e.getValue().muli(1 - LR * WD).subi(grad); // decoupled weight decay, then the Adam update
            }
            return step[0]++;
        }, fw);
    }

    /** The parts of an AdamW update of the largest parameter (proj1_vf.weight, 37.7 M floats). */
    static void updateParts() {
        long n = 512L * 73728;
        INDArray p = Nd4j.rand(DataType.FLOAT, 512, 73728);
        INDArray grad = Nd4j.rand(DataType.FLOAT, 512, 73728);
        AdamUpdater u = new AdamUpdater(new Adam(LR));
        u.setStateViewArray(Nd4j.zeros(DataType.FLOAT, 1, 2 * n), p.shape(), 'c', true);
        double[] fw = new double[1];
        int[] step = {0};
        report("dup 37.7M", 0, () -> grad.dup(), fw);
        report("Adam applyUpdater 37.7M", 0, () -> {
            u.applyUpdater(grad, step[0]++, 0);
            return grad;
        }, fw);
        report("muli 37.7M", 0, () -> p.muli(1 - LR * WD), fw);
        report("subi 37.7M", 0, () -> p.subi(grad), fw);
        INDArray x = Nd4j.rand(DataType.FLOAT, 40, 73728);
        INDArray y = Nd4j.create(DataType.FLOAT, 40, 512);
        INDArray yt = Nd4j.create(DataType.FLOAT, 512, 40);
        INDArray dy = Nd4j.rand(DataType.FLOAT, 40, 512);
        double f = 2.0 * 40 * 73728 * 512;
        report("gemm x W^T [40,73728]x[73728,512]", f, () -> Nd4j.gemm(x, p, y, false, true, 1, 0), fw);
        report("gemm W x^T (transposed result)", f, () -> Nd4j.gemm(p, x, yt, false, true, 1, 0), fw);
        report("gemm dW = dY^T X into reused", f, () -> Nd4j.gemm(dy, x, grad, true, false, 1, 0), fw);
        report("gemm dW = dY^T X into new", f, () -> Nd4j.gemm(dy, x, Nd4j.create(DataType.FLOAT, 512, 73728),
                true, false, 1, 0), fw);
    }

    static double forwardFlop(AudioProjConfig c, int b, int frames) {
        double i = c.intermediateDim();
        return 2.0 * b * (c.inputDim() * i + (frames - 1) * c.inputDimVf() * i + frames * i * i
                + frames * i * c.contextTokens() * c.outputDim());
    }

    static <T> T report(String name, double flop, Supplier<T> body, double[] ms) {
        T last = null;
        for (int i = 0; i < WARM; i++) {
            last = body.get();
        }
        double[] t = new double[ITERS];
        for (int i = 0; i < ITERS; i++) {
            long s = System.nanoTime();
            last = body.get();
            t[i] = (System.nanoTime() - s) / 1e6;
        }
        Arrays.sort(t);
        ms[0] = t[ITERS / 2];
        System.out.printf("java  %-32s %8.1f ms (min %.1f)%s%n", name, t[ITERS / 2], t[0],
                flop > 0 ? String.format("  %.0f GFLOP/s", flop / t[ITERS / 2] / 1e6) : "");
        return last;
    }
}
