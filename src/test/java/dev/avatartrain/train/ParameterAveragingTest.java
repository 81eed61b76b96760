package dev.avatartrain.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.avatartrain.models.nn.Network;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.train.optim.AdamW;
import dev.avatartrain.train.unet.UNetTask;

/** The engine on local Spark against single-machine training with the same code path. */
class ParameterAveragingTest {
    static SparkSession spark;
    static JavaSparkContext sc;

    @BeforeAll
    static void start() {
        // local[2, 2]: two threads, and a failed task is retried once
        spark = SparkSession.builder().master("local[2,2]").appName("ParameterAveragingTest")
                .config("spark.ui.enabled", "false").getOrCreate();
        sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    @Test
    void oneWorkerEqualsSingleMachineTrainingWithAccumulation(@TempDir Path dir) throws Exception {
        Storage out = TinyLatents.write(dir, 2, 6, 1);
        UNetTask task = TinyLatents.task(out, 2);
        ParameterAveraging.Settings s = TinyLatents.settings(2, "cosine");
        List<List<String>> shards = List.of(List.of("clip-0", "clip-1"));
        Network init = task.buildNetwork();
        NamedArrays params = NamedArrays.of(init.parameters());
        NamedArrays state = Trainer.zeroOptimizerState(init.parameters());

        // on Spark: 3 rounds of 1 step
        NamedArrays p = params, st = state;
        for (int round = 0; round < 3; round++) {
            ParameterAveraging.Round r = ParameterAveraging.round(sc, task, shards, s, p, st, round, round, 1);
            p = r.params();
            st = r.optimizerState();
        }

        // one machine: one network, one optimizer, 3 steps of 2 accumulated micro-batches
        Network net = task.buildNetwork();
        params.copyInto(net.parameters());
        AdamW opt = new AdamW(0.9, 0.999, 1e-8, 1e-2);
        TrainingTask.BatchSource data = task.open(shards.get(0));
        StepRunner runner = new StepRunner(net, task.lossName(), 2, 1.0, s.schedule());
        for (int step = 0; step < 3; step++) {
            SplittableRandom rng = StepRunner.rng(s.seed(), step, 0);
            runner.run(data, rng, opt, step, 1, 2);
        }
        NamedArrays local = NamedArrays.of(net.parameters());
        assertTrue(TinyLatents.maxAbsDiff(params, local) > 1e-4, "training changed nothing");
        assertEquals(0.0, TinyLatents.maxAbsDiff(p, local), 1e-6);
        assertEquals(0.0, TinyLatents.maxAbsDiff(st, NamedArrays.of(opt.state())), 1e-6);
    }

    @Test
    void twoPartitionsAverageTheirParametersAndOptimizerState(@TempDir Path dir) throws Exception {
        Storage out = TinyLatents.write(dir, 4, 5, 2);
        UNetTask task = TinyLatents.task(out, 2);
        ParameterAveraging.Settings s = TinyLatents.settings(1, "constant");
        List<List<String>> shards = List.of(List.of("clip-0", "clip-2"), List.of("clip-1", "clip-3"));
        Network init = task.buildNetwork();
        NamedArrays params = NamedArrays.of(init.parameters());
        NamedArrays state = Trainer.zeroOptimizerState(init.parameters());

        ParameterAveraging.Round r = ParameterAveraging.round(sc, task, shards, s, params, state, 0, 0, 2);
        assertEquals(2, r.partitions());
        assertEquals(2L * 2 * 2, r.samples());

        // each partition alone, averaged by hand
        ParameterAveraging.Broadcasted in = new ParameterAveraging.Broadcasted(params, state, 0);
        NamedArrays sum = null;
        for (int p = 0; p < 2; p++) {
            ParameterAveraging.Partial part = ParameterAveraging.runSteps(task, task.buildNetwork(), shards.get(p), s, in, 0, p, 2);
            sum = sum == null ? part.params() : sum.addInPlace(part.params());
        }
        sum.scaleInPlace(0.5);
        assertTrue(TinyLatents.maxAbsDiff(params, r.params()) > 1e-4, "training changed nothing");
        assertEquals(0.0, TinyLatents.maxAbsDiff(sum, r.params()), 1e-6);
    }

    @Test
    void aTaskThatFailsOnceIsRetriedWithTheSameResult(@TempDir Path dir) throws Exception {
        Storage out = TinyLatents.write(dir, 2, 5, 3);
        UNetTask task = TinyLatents.task(out, 2);
        ParameterAveraging.Settings s = TinyLatents.settings(1, "constant");
        List<List<String>> shards = List.of(List.of("clip-0"), List.of("clip-1"));
        Network init = task.buildNetwork();
        NamedArrays params = NamedArrays.of(init.parameters());
        NamedArrays state = Trainer.zeroOptimizerState(init.parameters());

        ParameterAveraging.Round clean = ParameterAveraging.round(sc, task, shards, s, params, state, 0, 5, 1);
        ParameterAveraging.Round retried = ParameterAveraging.round(sc, new FailsFirstAttempt(task), shards, s, params, state, 0, 5, 1);
        assertEquals(0.0, TinyLatents.maxAbsDiff(clean.params(), retried.params()), 0.0);
        assertEquals(clean.loss(), retried.loss(), 0.0);
    }

    /** Fails the first attempt of partition 1's task after drawing data (as a lost executor would). */
    record FailsFirstAttempt(UNetTask inner) implements TrainingTask {
        @Override
        public String networkKey() {
            return inner.networkKey();
        }

        @Override
        public Network buildNetwork() {
            return inner.buildNetwork();
        }

        @Override
        public String lossName() {
            return inner.lossName();
        }

        @Override
        public int batchSize() {
            return inner.batchSize();
        }

        @Override
        public BatchSource open(List<String> shard) {
            BatchSource source = inner.open(shard);
            TaskContext ctx = TaskContext.get();
            return rng -> {
                var batch = source.next(rng);
                if (ctx != null && ctx.partitionId() == 1 && ctx.attemptNumber() == 0) {
                    throw new IllegalStateException("injected failure of the first attempt");
                }
                return batch;
            };
        }
    }
}
