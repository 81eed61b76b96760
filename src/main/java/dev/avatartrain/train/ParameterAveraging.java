package dev.avatartrain.train;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;

import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;

import dev.avatartrain.models.nn.Network;
import dev.avatartrain.train.optim.AdamW;
import dev.avatartrain.train.optim.LrSchedule;

/**
 * One round of parameter averaging on Spark (DESIGN.md §3): the driver broadcasts parameters, optimizer state and
 * the global step; every partition (a shard of whole items) runs {@code steps} optimizer steps on its own data;
 * {@code treeReduce} sums the partitions' parameters, optimizer state and statistics, and the driver divides by the
 * number of partitions. Sampling in a task is seeded by (seed, round, partition), so a task Spark retries computes
 * the same result.
 */
public final class ParameterAveraging {
    /** What stays fixed over a run. */
    public record Settings(int accumulation, double maxGradNorm, LrSchedule schedule, double beta1, double beta2,
                           double epsilon, double weightDecay, long seed) implements Serializable {}

    /** The averaged outcome of a round. */
    public record Round(NamedArrays params, NamedArrays optimizerState, double loss, double gradNorm, double lr, long samples,
                        int partitions) {}

    /** One partition's result, summed by {@code treeReduce}. */
    record Partial(NamedArrays params, NamedArrays state, double lossSum, double normSum, double lrSum, int steps, long samples,
                   int partitions) implements Serializable {
        Partial plus(Partial o) {
            return new Partial(params.addInPlace(o.params), state.addInPlace(o.state), lossSum + o.lossSum, normSum + o.normSum,
                    lrSum + o.lrSum, steps + o.steps, samples + o.samples, partitions + o.partitions);
        }
    }

    record Broadcasted(NamedArrays params, NamedArrays state, long step) implements Serializable {}

    // Networks are reused across rounds within an executor JVM; tasks running at once each borrow their own.
    private static final Map<String, ConcurrentLinkedQueue<Network>> NETWORKS = new ConcurrentHashMap<>();

    private ParameterAveraging() {}

    public static Round round(JavaSparkContext sc, TrainingTask task, List<List<String>> shards, Settings settings,
                              NamedArrays params, NamedArrays state, long step, long round, int steps) {
        Broadcast<Broadcasted> b = sc.broadcast(new Broadcasted(params, state, step));
        try {
            List<Integer> ids = new ArrayList<>();
            for (int i = 0; i < shards.size(); i++) ids.add(i);
            Partial sum = sc.parallelize(ids, shards.size())
                    .mapPartitionsWithIndex((p, it) -> runPartition(task, shards.get(p), settings, b.value(), round, p, steps), false)
                    .treeReduce(Partial::plus, 2);
            double n = sum.partitions;
            return new Round(sum.params.scaleInPlace(1 / n), sum.state.scaleInPlace(1 / n), sum.lossSum / sum.steps,
                    sum.normSum / sum.steps, sum.lrSum / sum.steps, sum.samples, sum.partitions);
        } finally {
            b.destroy();
        }
    }

    private static Iterator<Partial> runPartition(TrainingTask task, List<String> shard, Settings s, Broadcasted in, long round,
                                                  int partition, int steps) {
        dev.avatartrain.models.nn.QuietSameDiff.install();
        GpuAssignment.useAssignedGpu(TaskContext.get());
        Network net = borrow(task);
        try {
            return Collections.singletonList(runSteps(task, net, shard, s, in, round, partition, steps)).iterator();
        } finally {
            NETWORKS.get(task.networkKey()).add(net);
        }
    }

    /** The work of one partition, on a given network; single-machine training in tests calls this directly. */
    static Partial runSteps(TrainingTask task, Network net, List<String> shard, Settings s, Broadcasted in, long round,
                            int partition, int steps) {
        in.params().copyInto(net.parameters());
        AdamW opt = new AdamW(s.beta1(), s.beta2(), s.epsilon(), s.weightDecay());
        opt.setState(in.state().toINDArrays(), in.step());
        StepRunner runner = new StepRunner(net, task.lossName(), s.accumulation(), s.maxGradNorm(), s.schedule());
        StepRunner.Totals t = runner.run(task.open(shard), StepRunner.rng(s.seed(), round, partition), opt, in.step(), steps,
                task.batchSize());
        return new Partial(NamedArrays.of(net.parameters()), NamedArrays.of(opt.state()), t.lossSum(), t.gradNormSum(),
                t.lrSum(), t.steps(), t.samples(), 1);
    }

    private static Network borrow(TrainingTask task) {
        Network net = NETWORKS.computeIfAbsent(task.networkKey(), k -> new ConcurrentLinkedQueue<>()).poll();
        return net != null ? net : task.buildNetwork();
    }
}
