package dev.avatartrain.train.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.ObjectMapper;

import dev.avatartrain.config.AppConfig;
import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.jobs.DemoJob;
import dev.avatartrain.models.nn.Network;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.train.Checkpoints;
import dev.avatartrain.train.Metrics;
import dev.avatartrain.train.TinyLatents;
import dev.avatartrain.train.TrainingTask;

/**
 * The engine on local Spark (two barrier tasks in one JVM, a failed task retried once): stage retries, the
 * rendezvous time-out, the slot check, the rows of metrics.jsonl.
 */
class SparkTrainerTest {
    static final long TIMEOUT_S = 20;
    static SparkSession spark;
    static JavaSparkContext sc;

    @BeforeAll
    static void start() {
        // local[2, 2]: two task slots, and a failed task (so its barrier stage) is retried once
        spark = SparkSession.builder().master("local[2,2]").appName("SparkTrainerTest").config("spark.ui.enabled", "false")
                .config(SparkTrainer.TIMEOUT, TIMEOUT_S + "s").getOrCreate();
        sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    static AppConfig config(Path out, String... more) {
        List<String> o = new ArrayList<>(List.of("data.output_dir=" + out, "train.max_train_steps=2", "train.validation_steps=100",
                "train.checkpointing_steps=1", "train.checkpoints_total_limit=3", "train.train_batch_size=2",
                "optimizer.lr_scheduler=constant", "optimizer.lr_warmup_steps=0"));
        o.addAll(List.of(more));
        return AppConfig.load(DemoJob.demoConfigDir(), o);
    }

    static final List<List<String>> SHARDS = List.of(List.of("clip-0"), List.of("clip-1"));

    static SparkTrainer.Result train(Path out, TrainingTask task, String... more) throws Exception {
        Storage storage = Storage.forUrl(out.toString(), null);
        return new SparkTrainer(sc, config(out, more), task, SHARDS, storage, null).run(null, 0);
    }

    @Test
    void aFailedTaskFailsItsStageWhichSparkRetriesFromTheSegmentsCheckpoint(@TempDir Path dir) throws Exception {
        TrainingTask task = TinyLatents.task(TinyLatents.write(dir.resolve("latents"), 2, 5, 3), 2);
        SparkTrainer.Result clean = train(dir.resolve("clean"), task);
        FailsOnce.FAILURES.set(0);
        FailsOnce.DRAWS.set(0);
        SparkTrainer.Result retried = train(dir.resolve("retried"), new FailsOnce(task));
        assertEquals(1, FailsOnce.FAILURES.get(), "the injected failure happened once");
        assertEquals(2, clean.step());
        assertEquals(2, retried.step());
        for (String f : List.of(Checkpoints.MODEL, "optimizer-00000-of-00002.safetensors", "optimizer-00001-of-00002.safetensors")) {
            byte[] a = Files.readAllBytes(Path.of(java.net.URI.create(clean.lastCheckpoint())).resolve(f));
            byte[] b = Files.readAllBytes(Path.of(java.net.URI.create(retried.lastCheckpoint())).resolve(f));
            assertTrue(java.util.Arrays.equals(a, b), f + " differs after the retried segment");
        }
        // one row per step, each with the step's wall time and the part of it computed
        List<String> rows = Files.readAllLines(dir.resolve("retried").resolve(Metrics.JSONL));
        assertEquals(2, rows.size(), rows.toString());
        for (String r : rows) {
            Map<?, ?> m = new ObjectMapper().readValue(r, Map.class);
            double round = ((Number) m.get("round_s")).doubleValue(), compute = ((Number) m.get("compute_s")).doubleValue();
            assertTrue(compute > 0 && compute <= round, r);
        }
    }

    /**
     * In the first attempt of the first segment worker 1 never gets its data: worker 0 gives up at the rendezvous after
     * the time-out with a message saying so, the stage fails, and its retry trains.
     */
    @Test
    void aWorkerThatNeverArrivesFailsTheSegmentWithinTheTimeOut(@TempDir Path dir) throws Exception {
        TrainingTask task = new NeverArrivesFirst(TinyLatents.task(TinyLatents.write(dir.resolve("latents"), 2, 5, 3), 2));
        List<String> failures = java.util.Collections.synchronizedList(new ArrayList<>());
        long[] failedAt = {0};
        long t0 = System.nanoTime();
        org.apache.spark.scheduler.SparkListener listener = new org.apache.spark.scheduler.SparkListener() {
            @Override
            public void onTaskEnd(org.apache.spark.scheduler.SparkListenerTaskEnd end) {
                if (end.reason() instanceof org.apache.spark.ExceptionFailure f) {
                    failures.add(f.toErrorString());
                    if (failedAt[0] == 0) failedAt[0] = System.nanoTime();
                }
            }
        };
        sc.sc().addSparkListener(listener);
        try {
            assertEquals(2, train(dir.resolve("out"), task).step(), "the retried stage trains");
        } finally {
            sc.sc().removeSparkListener(listener);
        }
        String all = String.join("\n", failures);
        assertTrue(all.contains("not every one of the 2 workers reached the start of the training segment at step 0 within "
                + TIMEOUT_S + " s"), all);
        double seconds = (failedAt[0] - t0) / 1e9;
        assertTrue(seconds < TIMEOUT_S + 30, "failed after " + seconds + " s");
    }

    @Test
    void moreWorkersThanTaskSlotsAreRefusedBeforeTraining() {
        BadInputException e = assertThrows(BadInputException.class, () -> Workers.resolve(sc, 3, 10, "num_workers"));
        assertTrue(e.getMessage().contains("num_workers is 3, but the cluster offers 2 task slots (1 executor × 2 cores"), e.getMessage());
        assertEquals(2, Workers.resolve(sc, 2, 10, "num_workers"));
        assertEquals(1, Workers.resolve(sc, 0, 10, "num_workers"), "0: one worker per executor (local mode: one)");
        assertEquals(1, Workers.resolve(sc, 2, 1, "num_workers"), "no more workers than items");
    }

    private static String messages(Throwable e) {
        StringBuilder s = new StringBuilder();
        for (Throwable c = e; c != null; c = c.getCause()) s.append(c.getMessage()).append(" | ");
        return s.toString();
    }

    /** A task that is another one but for where its batches come from. */
    interface Wrapping extends TrainingTask {
        TrainingTask inner();

        @Override
        default String networkKey() {
            return inner().networkKey();
        }

        @Override
        default Network buildNetwork() {
            return inner().buildNetwork();
        }

        @Override
        default String lossName() {
            return inner().lossName();
        }

        @Override
        default int batchSize() {
            return inner().batchSize();
        }
    }

    /** Fails worker 1 once, when it draws the second step's batch (in the second segment), as a lost executor would. */
    record FailsOnce(TrainingTask inner) implements Wrapping {
        static final AtomicInteger FAILURES = new AtomicInteger(), DRAWS = new AtomicInteger();

        @Override
        public BatchSource open(List<String> shard) {
            BatchSource source = inner.open(shard);
            TaskContext ctx = TaskContext.get();
            return rng -> {
                var batch = source.next(rng);
                if (ctx != null && ctx.partitionId() == 1 && DRAWS.incrementAndGet() == 2 && FAILURES.compareAndSet(0, 1)) {
                    throw new IllegalStateException("injected failure");
                }
                return batch;
            };
        }
    }

    /** In the first attempt of a stage worker 1 never gets its data (and so never reaches the rendezvous) until killed. */
    record NeverArrivesFirst(TrainingTask inner) implements Wrapping {
        @Override
        public BatchSource open(List<String> shard) {
            TaskContext ctx = TaskContext.get();
            // Spark kills a failed barrier stage's other tasks without interrupting them: a stuck task sees the flag
            while (ctx != null && ctx.partitionId() == 1 && ctx.stageAttemptNumber() == 0 && !ctx.isInterrupted()) {
                try {
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            return inner.open(shard);
        }
    }
}
