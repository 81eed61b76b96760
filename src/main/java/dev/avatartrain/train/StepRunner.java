package dev.avatartrain.train;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import org.nd4j.linalg.api.ndarray.INDArray;

import dev.avatartrain.models.nn.Network;
import dev.avatartrain.train.optim.AdamW;
import dev.avatartrain.train.optim.GradientClipping;
import dev.avatartrain.train.optim.LrSchedule;
import dev.avatartrain.tensors.NativeMemory;

/**
 * Optimizer steps on one worker: each step sums the gradients of {@code accumulation} micro-batches (each loss
 * divided by {@code accumulation}, as accelerate does), clips their global norm and applies AdamW at the
 * schedule's rate for the global step. Used by Spark tasks and, unchanged, by single-machine training in tests.
 */
public final class StepRunner {
    private final Network net;
    private final String loss;
    private final int accumulation;
    private final double maxGradNorm;
    private final LrSchedule schedule;

    public StepRunner(Network net, String loss, int accumulation, double maxGradNorm, LrSchedule schedule) {
        this.net = net;
        this.loss = loss;
        this.accumulation = accumulation;
        this.maxGradNorm = maxGradNorm;
        this.schedule = schedule;
    }

    /** The mean of {@code accumulation} micro-batches' gradients (each loss divided by accumulation) and their mean loss. */
    public record Accumulated(Map<String, INDArray> gradients, double loss) {}

    /**
     * Draws {@code accumulation} micro-batches and sums their gradients, each divided by {@code accumulation}
     * (no clipping, no step): what a worker returns in exact data-parallel mode. The sum is built in place
     * ({@link Network#accumulateGradients}): the first micro-batch's gradients, the later ones added into them, so a
     * worker holds one set of gradients however many micro-batches there are. The caller gives them back with
     * {@link Network#recycle} once it has read them.
     */
    public Accumulated accumulate(TrainingTask.BatchSource data, SplittableRandom rng) {
        Map<String, INDArray> grads = new LinkedHashMap<>();
        double stepLoss = 0;
        for (int a = 0; a < accumulation; a++) {
            NativeMemory.releaseGarbageIfHigh();
            stepLoss += net.accumulateGradients(data.next(rng), loss, 1.0 / accumulation, grads) / accumulation;
        }
        return new Accumulated(grads, stepLoss);
    }

    /** Sums over the steps run: loss (mean over micro-batches of each step), gradient norm, learning rate. */
    public record Totals(double lossSum, double gradNormSum, double lrSum, int steps, long samples) {}

    /** The generator of (seed, round, partition): a retried task, or a resumed run, draws the same batches. */
    public static SplittableRandom rng(long seed, long round, int partition) {
        long x = seed * 0x9E3779B97F4A7C15L + round * 0xBF58476D1CE4E5B9L + partition * 0x94D049BB133111EBL;
        return new SplittableRandom(x);
    }

    /**
     * Runs {@code steps} optimizer steps from global step {@code firstStep} (steps already taken), drawing from
     * {@code data} with {@code rng}.
     */
    public Totals run(TrainingTask.BatchSource data, SplittableRandom rng, AdamW optimizer, long firstStep, int steps, int batchSize) {
        Map<String, INDArray> params = net.parameters();
        double lossSum = 0, normSum = 0, lrSum = 0;
        for (int s = 0; s < steps; s++) {
            Accumulated acc = accumulate(data, rng);
            Map<String, INDArray> grads = acc.gradients();
            double stepLoss = acc.loss();
            double norm = GradientClipping.clipGlobalNorm(grads, maxGradNorm);
            double lr = schedule.lr(firstStep + s);
            optimizer.step(params, grads, lr);
            net.recycle(grads); // consumed by the step: the next step's gradients reuse the memory
            lossSum += stepLoss;
            normSum += norm;
            lrSum += lr;
        }
        return new Totals(lossSum, normSum, lrSum, steps, (long) steps * accumulation * batchSize);
    }
}
