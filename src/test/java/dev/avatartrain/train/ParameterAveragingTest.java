package dev.avatartrain.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.models.nn.Network;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.train.optim.AdamW;
import dev.avatartrain.train.optim.GradientClipping;
import dev.avatartrain.train.unet.UNetTask;

/**
 * The engine on local Spark against single-machine training written out here step by step. Chunks are small (20 000
 * floats), so every test crosses tensor boundaries inside chunks and a short last chunk.
 */
class ParameterAveragingTest {
    static final int CHUNK = 20_000;
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

    static final List<List<String>> TWO_SHARDS = List.of(List.of("clip-0", "clip-2"), List.of("clip-1", "clip-3"));

    /** One machine, one network: the mean gradient of every micro-batch the workers draw in a round (worker by worker). */
    static Map<String, INDArray> unionGradient(UNetTask task, Network net, ParameterAveraging.Settings s, long round, double[] loss) {
        Map<String, INDArray> sum = new LinkedHashMap<>();
        int n = TWO_SHARDS.size(), a = s.accumulation();
        loss[0] = 0;
        for (int p = 0; p < n; p++) {
            TrainingTask.BatchSource data = task.open(TWO_SHARDS.get(p));
            SplittableRandom rng = StepRunner.rng(s.seed(), round, p);
            for (int i = 0; i < a; i++) {
                Network.LossAndGradients r = net.lossAndGradients(data.next(rng), task.lossName());
                loss[0] += r.loss() / (n * a);
                r.gradients().forEach((name, g) -> {
                    INDArray scaled = g.div(n * a);
                    if (sum.containsKey(name)) sum.get(name).addi(scaled);
                    else sum.put(name, scaled);
                });
            }
        }
        return sum;
    }

    /**
     * The chunks a round publishes are a snapshot on the driver's disk, not in its heap: the block store holds them
     * with no memory size; tasks read the values as published although the driver changed its arrays since (as it
     * does while a round's reduced chunks stream back); closing removes them, and a task then fails naming the block.
     */
    @Test
    void publishedChunksAreADiskOnlySnapshotThatTasksReadUntilClosed() throws Exception {
        SplittableRandom r = new SplittableRandom(11);
        float[] a = new float[CHUNK], b = new float[777];
        for (int i = 0; i < a.length; i++) a[i] = (float) r.nextGaussian();
        for (int i = 0; i < b.length; i++) b[i] = (float) r.nextGaussian();
        List<float[]> published = List.of(a.clone(), b.clone());
        PublishedChunks p = PublishedChunks.publish(sc, List.of(a, b));
        org.apache.spark.storage.BlockManager bm = org.apache.spark.SparkEnv.get().blockManager();
        for (int k = 0; k < 2; k++) {
            org.apache.spark.storage.BlockStatus st = bm.getStatus(p.block(k)).get();
            assertEquals(0, st.memSize(), "bytes of " + p.block(k) + " in the driver's memory store");
            assertEquals(4L * published.get(k).length, st.diskSize(), "bytes of " + p.block(k) + " on the driver's disk");
        }
        a[0] += 1;
        b[776] = -3;
        List<float[]> read = sc.parallelize(List.of(0, 1, 0, 1), 4).map(k -> {
            float[] x = new float[p.length(k)];
            p.read(k, x);
            return x;
        }).collect();
        for (int i = 0; i < 4; i++) org.junit.jupiter.api.Assertions.assertArrayEquals(published.get(i % 2), read.get(i), "chunk " + i % 2);

        p.close();
        for (int t = 0; t < 200 && (bm.getStatus(p.block(0)).isDefined() || bm.getStatus(p.block(1)).isDefined()); t++) Thread.sleep(50);
        assertTrue(bm.getStatus(p.block(0)).isEmpty() && bm.getStatus(p.block(1)).isEmpty(), "closing left the blocks on the driver");
        Exception e = assertThrows(org.apache.spark.SparkException.class, () -> sc.parallelize(List.of(0), 1).map(k -> {
            p.read(0, new float[p.length(0)]);
            return k;
        }).collect());
        assertTrue(e.getMessage().contains(p.block(0) + " (chunk 0 of the round's state) is on no block manager"), e.getMessage());
    }

    /** The driver reads a persisted reduced partition from the block manager, and learns when no block manager has it. */
    @Test
    void storedPartitionsAreReadFromTheBlockManagerOrReportedMissing() {
        List<scala.Tuple2<Integer, ParameterAveraging.Piece>> pieces = List.of(new scala.Tuple2<>(0, new ParameterAveraging.Piece(new float[]{1, 2}, null)),
                new scala.Tuple2<>(1, new ParameterAveraging.Piece(new float[]{3}, null)));
        org.apache.spark.api.java.JavaPairRDD<Integer, ParameterAveraging.Piece> rdd = sc.parallelizePairs(pieces, 2)
                .persist(org.apache.spark.storage.StorageLevel.MEMORY_AND_DISK());
        assertEquals(null, ParameterAveraging.storedPartition(rdd, 1), "not computed yet");
        rdd.count();
        List<scala.Tuple2<Integer, ParameterAveraging.Piece>> got = ParameterAveraging.storedPartition(rdd, 1);
        assertEquals(1, got.size());
        assertEquals(1, got.get(0)._1());
        org.junit.jupiter.api.Assertions.assertArrayEquals(new float[]{3}, got.get(0)._2().values());
        rdd.unpersist(true);
        assertEquals(null, ParameterAveraging.storedPartition(rdd, 0), "unpersisted");
    }

    /** A chunk survives both serializers the engine's pieces travel through, bit for bit (a length over one 1 MiB block). */
    @Test
    void aPieceRoundTripsThroughJavaAndKryoSerialisation() {
        float[] values = new float[(1 << 18) + 12_345];
        SplittableRandom r = new SplittableRandom(7);
        for (int i = 0; i < values.length; i++) values[i] = (float) r.nextGaussian();
        values[3] = Float.NaN;
        values[4] = -0.0f;
        ParameterAveraging.Piece chunk = new ParameterAveraging.Piece(values.clone(), null).withSumOfSquares();
        ParameterAveraging.Piece stats = new ParameterAveraging.Piece(null, new double[]{1.5, -2, 3e300});
        for (org.apache.spark.serializer.Serializer ser : List.of(new org.apache.spark.serializer.JavaSerializer(sc.getConf()),
                new org.apache.spark.serializer.KryoSerializer(sc.getConf()))) {
            org.apache.spark.serializer.SerializerInstance in = ser.newInstance();
            scala.reflect.ClassTag<ParameterAveraging.Piece> tag = scala.reflect.ClassTag$.MODULE$.apply(ParameterAveraging.Piece.class);
            ParameterAveraging.Piece c = in.deserialize(in.serialize(chunk, tag), tag);
            assertEquals(values.length, c.values.length, ser.getClass().getSimpleName());
            for (int i = 0; i < values.length; i++)
                assertEquals(Float.floatToRawIntBits(values[i]), Float.floatToRawIntBits(c.values[i]), ser.getClass().getSimpleName() + " at " + i);
            assertEquals(chunk.sumOfSquares, c.sumOfSquares);
            assertEquals(null, c.stats);
            ParameterAveraging.Piece t = in.deserialize(in.serialize(stats, tag), tag);
            assertEquals(null, t.values);
            assertEquals(List.of(1.5, -2.0, 3e300), java.util.Arrays.stream(t.stats).boxed().toList());
        }
    }

    @Test
    void theReducedGradientIsTheGradientOfTheUnionOfTheWorkersMicroBatches(@TempDir Path dir) throws Exception {
        UNetTask task = TinyLatents.task(TinyLatents.write(dir, 4, 5, 4), 2);
        ParameterAveraging.Settings s = TinyLatents.settings(2, "constant");
        Network net = task.buildNetwork();
        ModelState state = ModelState.of(net, CHUNK);
        FlatLayout layout = state.layout();
        assertTrue(layout.chunks() > 3, "several chunks: " + layout.chunks());

        float[] reduced = new float[(int) layout.total()];
        double[] stats = new double[ParameterAveraging.STATS_SIZE], sumSq = new double[1];
        ParameterAveraging.exchange(sc, task, TWO_SHARDS, s, state, 3, 1, true, stats, sumSq,
                (c, values) -> System.arraycopy(values, 0, reduced, c * CHUNK, values.length));

        double[] loss = new double[1];
        Map<String, INDArray> union = unionGradient(task, net, s, 3, loss);
        float[] expected = new float[reduced.length];
        for (int c = 0; c < layout.chunks(); c++) {
            float[] v = new float[layout.chunkLength(c)];
            layout.gather(union, c, v);
            System.arraycopy(v, 0, expected, c * CHUNK, v.length);
        }
        double maxAbs = 0, maxDiff = 0, sq = 0;
        for (int i = 0; i < expected.length; i++) {
            float mean = reduced[i] / 2; // the reduction sums the workers' gradients
            maxAbs = Math.max(maxAbs, Math.abs(expected[i]));
            maxDiff = Math.max(maxDiff, Math.abs(mean - expected[i]));
            sq += (double) expected[i] * expected[i];
        }
        assertTrue(maxAbs > 1e-3, "gradients are not all zero");
        assertEquals(0.0, maxDiff / maxAbs, 1e-5, "reduced gradient vs one machine's, relative to the largest entry");
        assertEquals(Math.sqrt(sq), Math.sqrt(sumSq[0]) / 2, 1e-5 * Math.sqrt(sq), "global norm from the per-chunk sums of squares");
        assertEquals(loss[0], stats[0] / 2, 1e-6, "loss");
        assertEquals(2L * 2 * 2, (long) stats[4], "samples: 2 workers × 2 micro-batches × 2");
    }

    @Test
    void twoWorkersInExactModeEqualOneMachineWithTwiceTheAccumulation(@TempDir Path dir) throws Exception {
        UNetTask task = TinyLatents.task(TinyLatents.write(dir, 4, 5, 2), 2);
        ParameterAveraging.Settings s = TinyLatents.settings(2, "cosine");
        Network init = task.buildNetwork();
        ModelState state = ModelState.of(init, CHUNK);
        Map<String, float[]> start = state.paramsByName();
        double[] norms = new double[3];
        for (int round = 0; round < 3; round++) {
            ParameterAveraging.Round r = ParameterAveraging.round(sc, task, TWO_SHARDS, s, state, round, 1, true);
            norms[round] = r.gradNorm();
            assertEquals(2, r.partitions());
            assertEquals(2L * 2 * 2, r.samples());
        }
        assertEquals(3, state.step());

        // one machine: one network, one optimizer, 3 steps of the union's 4 micro-batches, clipped by their global norm
        Network net = task.buildNetwork();
        AdamW opt = new AdamW(s.beta1(), s.beta2(), s.epsilon(), s.weightDecay());
        for (int step = 0; step < 3; step++) {
            Map<String, INDArray> g = unionGradient(task, net, s, step, new double[1]);
            double norm = GradientClipping.clipGlobalNorm(g, s.maxGradNorm());
            assertEquals(norm, norms[step], 1e-5 * norm, "gradient norm at step " + step);
            opt.step(net.parameters(), g, s.schedule().lr(step));
        }
        assertTrue(norms[0] > s.maxGradNorm(), "clipping was exercised: norm " + norms[0]);
        Map<String, float[]> local = TinyLatents.floats(net.parameters());
        assertTrue(TinyLatents.maxAbsDiff(start, local) > 1e-4, "training changed nothing");
        assertEquals(0.0, TinyLatents.maxAbsDiff(state.paramsByName(), local), 2e-6);
        assertEquals(0.0, TinyLatents.maxAbsDiff(state.momentsByName(), TinyLatents.floats(opt.state())), 1e-6);
    }

    @Test
    void averagingRoundsAverageParametersAndBothMoments(@TempDir Path dir) throws Exception {
        UNetTask task = TinyLatents.task(TinyLatents.write(dir, 4, 5, 2), 2);
        ParameterAveraging.Settings s = TinyLatents.settings(1, "constant");
        Network init = task.buildNetwork();
        ModelState state = ModelState.of(init, CHUNK);
        Map<String, float[]> start = state.paramsByName();

        ParameterAveraging.Round r = ParameterAveraging.round(sc, task, TWO_SHARDS, s, state, 0, 2, false);
        assertEquals(2, r.partitions());
        assertEquals(2L * 2 * 2, r.samples());
        assertEquals(2, state.step());

        // each partition alone on its own network and optimizer, averaged by hand
        Map<String, float[]> params = new LinkedHashMap<>(), moments = new LinkedHashMap<>();
        for (int p = 0; p < 2; p++) {
            Network net = task.buildNetwork();
            AdamW opt = new AdamW(s.beta1(), s.beta2(), s.epsilon(), s.weightDecay());
            new StepRunner(net, task.lossName(), 1, s.maxGradNorm(), s.schedule())
                    .run(task.open(TWO_SHARDS.get(p)), StepRunner.rng(s.seed(), 0, p), opt, 0, 2, 2);
            addHalf(params, TinyLatents.floats(net.parameters()));
            addHalf(moments, TinyLatents.floats(opt.state()));
        }
        assertTrue(TinyLatents.maxAbsDiff(start, state.paramsByName()) > 1e-4, "training changed nothing");
        assertEquals(0.0, TinyLatents.maxAbsDiff(params, state.paramsByName()), 1e-6);
        assertEquals(0.0, TinyLatents.maxAbsDiff(moments, state.momentsByName()), 1e-7);
    }

    private static void addHalf(Map<String, float[]> sum, Map<String, float[]> x) {
        x.forEach((n, v) -> {
            float[] s = sum.computeIfAbsent(n, k -> new float[v.length]);
            for (int i = 0; i < v.length; i++) s[i] += v[i] / 2;
        });
    }

    @Test
    void aTaskThatFailsOnceIsRetriedWithTheSameResultInBothModes(@TempDir Path dir) throws Exception {
        UNetTask task = TinyLatents.task(TinyLatents.write(dir, 2, 5, 3), 2);
        ParameterAveraging.Settings s = TinyLatents.settings(1, "constant");
        List<List<String>> shards = List.of(List.of("clip-0"), List.of("clip-1"));
        Network init = task.buildNetwork();
        for (boolean exact : new boolean[]{true, false}) {
            ModelState clean = ModelState.of(init, CHUNK), retried = ModelState.of(init, CHUNK);
            ParameterAveraging.Round a = ParameterAveraging.round(sc, task, shards, s, clean, 5, 1, exact);
            ParameterAveraging.Round b = ParameterAveraging.round(sc, new FailsFirstAttempt(task), shards, s, retried, 5, 1, exact);
            assertEquals(0.0, TinyLatents.maxAbsDiff(clean.paramsByName(), retried.paramsByName()), 0.0, "exact " + exact);
            assertEquals(0.0, TinyLatents.maxAbsDiff(clean.momentsByName(), retried.momentsByName()), 0.0, "exact " + exact);
            assertEquals(a.loss(), b.loss(), 0.0);
            assertTrue(FailsFirstAttempt.FAILURES.getAndSet(0) >= 1, "the injected failure happened");
        }
    }

    @Test
    void aModelThatCannotFitAWorkerFailsBeforeTrainingWithTheBytesNeeded() {
        // 10¹¹ parameters (a layout only: nothing is allocated)
        FlatLayout huge = new FlatLayout(List.of("w"), List.of(new long[]{100_000, 1_000_000}), ModelState.DEFAULT_CHUNK_FLOATS);
        BadInputException e = assertThrows(BadInputException.class, () -> WorkerMemory.check(sc, huge, true, 2));
        assertTrue(e.getMessage().contains("100,000,000,000 parameters"), e.getMessage());
        assertTrue(e.getMessage().contains("(800,000,000,000 bytes) of ND4J memory per training task"), e.getMessage());
        assertTrue(e.getMessage().contains("spark.driver.memory"), e.getMessage());
    }

    /** Fails the first attempt of partition 1's task after drawing data (as a lost executor would). */
    record FailsFirstAttempt(UNetTask inner) implements TrainingTask {
        static final java.util.concurrent.atomic.AtomicInteger FAILURES = new java.util.concurrent.atomic.AtomicInteger();

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
                    FAILURES.incrementAndGet();
                    throw new IllegalStateException("injected failure of the first attempt");
                }
                return batch;
            };
        }
    }
}
