package dev.avatartrain.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

import dev.avatartrain.collective.Collective;
import dev.avatartrain.collective.TcpRing;
import dev.avatartrain.data.adapter.AdapterManifest;
import dev.avatartrain.models.adapter.AudioProjConfig;
import dev.avatartrain.models.nn.Network;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.synth.SyntheticAdapterData;
import dev.avatartrain.train.adapter.AdapterTask;
import dev.avatartrain.train.optim.AdamW;
import dev.avatartrain.train.optim.GradientClipping;

/**
 * Workers on threads joined by the TCP ring over loopback, against one machine written out here step by step.
 * Buckets are small (3 000 floats), so every test has many buckets, tensors of several buckets' size, and ragged
 * shards.
 */
class DataParallelWorkerTest {
    static final int BUCKET = 3_000;
    static final List<List<String>> TWO_SHARDS = List.of(List.of("clip-0", "clip-2"), List.of("clip-1", "clip-3"));

    interface RankBody<T> {
        T run(int rank, Collective c) throws Exception;
    }

    /** Runs {@code body} on {@code n} ranks of a loopback ring, one thread each; returns the results by rank. */
    static <T> List<T> ring(int n, RankBody<T> body) throws Exception {
        List<TcpRing.Listener> listeners = new ArrayList<>();
        List<String> addresses = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            listeners.add(TcpRing.listen("127.0.0.1"));
            addresses.add(listeners.get(r).address());
        }
        ExecutorService threads = Executors.newFixedThreadPool(n);
        try {
            List<Future<T>> out = new ArrayList<>();
            for (int r = 0; r < n; r++) {
                int rank = r;
                out.add(threads.submit(() -> {
                    try (Collective c = listeners.get(rank).join(rank, addresses)) {
                        return body.run(rank, c);
                    }
                }));
            }
            List<T> results = new ArrayList<>();
            for (Future<T> f : out) results.add(f.get());
            return results;
        } finally {
            threads.shutdownNow();
        }
    }

    /** One machine: the mean gradient of every micro-batch the workers draw at {@code step} (worker by worker). */
    static Map<String, INDArray> unionGradient(TrainingTask task, Network net, TrainingSettings s, List<List<String>> shards, long step) {
        Map<String, INDArray> sum = new LinkedHashMap<>();
        int n = shards.size(), a = s.accumulation();
        for (int p = 0; p < n; p++) {
            TrainingTask.BatchSource data = task.open(shards.get(p));
            SplittableRandom rng = StepRunner.rng(s.seed(), step, p);
            for (int i = 0; i < a; i++) {
                Network.LossAndGradients r = net.lossAndGradients(data.next(rng), task.lossName());
                r.gradients().forEach((name, g) -> {
                    INDArray scaled = g.div(n * a);
                    if (sum.containsKey(name)) sum.get(name).addi(scaled);
                    else sum.put(name, scaled);
                });
            }
        }
        return sum;
    }

    /** What a rank ends with: its parameters, the norms of its steps. */
    record Ended(Map<String, float[]> params, double[] norms) {}

    /** {@code steps} steps of {@code n} workers from {@code start}; rank 1's network starts elsewhere (rank 0's is taken). */
    static List<Ended> train(TrainingTask task, TrainingSettings s, List<List<String>> shards, Map<String, float[]> start, int steps,
                             Storage out, String checkpoint) throws Exception {
        return ring(shards.size(), (rank, c) -> {
            Network net = task.buildNetwork();
            set(net, start, rank == 0 ? 0 : 1);
            try (DataParallelWorker w = new DataParallelWorker(net, task, s, c)) {
                w.startFromRankZero();
                TrainingTask.BatchSource data = task.open(shards.get(rank));
                double[] norms = new double[steps];
                for (int k = 0; k < steps; k++) {
                    DataParallelWorker.StepStats st = w.step(data, k, (k + 1) % s.averagingFrequency() == 0);
                    norms[k] = st.gradNorm();
                    assertEquals(k + 1, st.step());
                    assertEquals((long) shards.size() * s.accumulation() * task.batchSize(), st.samples());
                }
                if (checkpoint != null) w.writeCheckpoint(out, checkpoint, steps);
                return new Ended(TinyLatents.floats(net.parameters()), norms);
            }
        });
    }

    static void set(Network net, Map<String, float[]> values, float offset) {
        net.parameters().forEach((n, a) -> {
            float[] v = values.get(n).clone();
            for (int i = 0; i < v.length; i++) v[i] += offset;
            a.assign(org.nd4j.linalg.factory.Nd4j.create(v, a.shape()));
        });
    }

    /** The moments in a checkpoint's pieces, read back as whole tensors: {@code <name>.exp_avg}, {@code <name>.exp_avg_sq}. */
    static Map<String, float[]> moments(Storage out, String checkpoint, FlatLayout layout) throws Exception {
        float[][] flat = {new float[(int) layout.total()], new float[(int) layout.total()]};
        try (Storage in = Storage.forUrl(out.locations().get(0).child(checkpoint), null)) {
            CheckpointPieces.readMoments(in, checkpoint, layout, List.of(new long[]{0, layout.total()}),
                    (part, at, v) -> v.get(flat[part], (int) at, v.remaining()));
        }
        Map<String, float[]> m = new LinkedHashMap<>();
        for (int t = 0; t < layout.names().size(); t++) {
            int from = (int) layout.offset(t), to = from + (int) layout.length(t);
            m.put(layout.names().get(t) + AdamW.EXP_AVG, java.util.Arrays.copyOfRange(flat[0], from, to));
            m.put(layout.names().get(t) + AdamW.EXP_AVG_SQ, java.util.Arrays.copyOfRange(flat[1], from, to));
        }
        return m;
    }

    /** Two workers × accumulation A = one machine × 2A micro-batches: parameters, moments and norms after 3 steps. */
    void exactModeEqualsOneMachine(TrainingTask task, List<List<String>> shards, Path dir, int bucket) throws Exception {
        TrainingSettings s = TinyLatents.settings(2, "cosine", 1, bucket);
        Network init = task.buildNetwork();
        Map<String, float[]> start = TinyLatents.floats(init.parameters());
        Storage out = Storage.forUrl(dir.resolve("out").toString(), null);
        List<Ended> ranks = train(task, s, shards, start, 3, out, "ck");

        Network net = task.buildNetwork();
        set(net, start, 0);
        AdamW opt = new AdamW(s.beta1(), s.beta2(), s.epsilon(), s.weightDecay());
        for (int step = 0; step < 3; step++) {
            Map<String, INDArray> g = unionGradient(task, net, s, shards, step);
            double norm = GradientClipping.clipGlobalNorm(g, s.maxGradNorm());
            assertEquals(norm, ranks.get(0).norms()[step], 1e-5 * norm, "gradient norm at step " + step);
            opt.step(net.parameters(), g, s.schedule().lr(step));
        }
        assertTrue(ranks.get(0).norms()[0] > s.maxGradNorm(), "clipping was exercised: norm " + ranks.get(0).norms()[0]);
        Map<String, float[]> local = TinyLatents.floats(net.parameters());
        assertTrue(TinyLatents.maxAbsDiff(start, local) > 1e-4, "training changed nothing");
        assertEquals(0.0, TinyLatents.maxAbsDiff(ranks.get(0).params(), ranks.get(1).params()), 0.0, "ranks hold the same bits");
        assertEquals(0.0, TinyLatents.maxAbsDiff(ranks.get(0).params(), local), 2e-6);
        FlatLayout layout = FlatLayout.of(net.parameters(), ModelState.DEFAULT_CHUNK_FLOATS);
        assertTrue(new GradientBuckets(layout, bucket).all().size() > 5, "several buckets");
        assertEquals(0.0, TinyLatents.maxAbsDiff(moments(out, "ck", layout), TinyLatents.floats(opt.state())), 1e-6);
    }

    @Test
    void twoUNetWorkersInExactModeEqualOneMachineWithTwiceTheBatch(@TempDir Path dir) throws Exception {
        exactModeEqualsOneMachine(TinyLatents.task(TinyLatents.write(dir, 4, 5, 2), 2), TWO_SHARDS, dir, BUCKET);
    }

    @Test
    void twoAdapterWorkersInExactModeEqualOneMachineWithTwiceTheBatch(@TempDir Path dir) throws Exception {
        AudioProjConfig cfg = dev.avatartrain.train.adapter.AdapterOptions.load(Path.of("configuration/demo/train_adapter.yaml"), List.of(),
                Map.of("manifest", dir.resolve("m.json").toString(), "output_dir", dir.resolve("x").toString())).model();
        Path manifest = SyntheticAdapterData.write(dir.resolve("data"), cfg, 8, 3);
        AdapterTask task = new AdapterTask(AdapterManifest.read(manifest.toString(), null), cfg, 5, 2, "", Map.of());
        exactModeEqualsOneMachine(task, List.of(List.of("0", "2", "4"), List.of("1", "3", "5")), dir, 300);
    }

    @Test
    void averagingRoundsAverageParametersAndBothMoments(@TempDir Path dir) throws Exception {
        UNetTaskHolder h = new UNetTaskHolder(dir);
        TrainingSettings s = TinyLatents.settings(1, "constant", 2, BUCKET);
        Map<String, float[]> start = TinyLatents.floats(h.task.buildNetwork().parameters());
        Storage out = Storage.forUrl(dir.resolve("out").toString(), null);
        List<Ended> ranks = train(h.task, s, TWO_SHARDS, start, 2, out, "ck");

        // each worker alone on its own network and optimizer, averaged by hand
        Map<String, float[]> params = new LinkedHashMap<>(), moments = new LinkedHashMap<>();
        for (int p = 0; p < 2; p++) {
            Network net = h.task.buildNetwork();
            set(net, start, 0);
            AdamW opt = new AdamW(s.beta1(), s.beta2(), s.epsilon(), s.weightDecay());
            StepRunner runner = new StepRunner(net, h.task.lossName(), 1, s.maxGradNorm(), s.schedule());
            TrainingTask.BatchSource data = h.task.open(TWO_SHARDS.get(p));
            for (int step = 0; step < 2; step++) runner.run(data, StepRunner.rng(s.seed(), step, p), opt, step, 1, 2);
            addHalf(params, TinyLatents.floats(net.parameters()));
            addHalf(moments, TinyLatents.floats(opt.state()));
        }
        assertTrue(TinyLatents.maxAbsDiff(start, ranks.get(0).params()) > 1e-4, "training changed nothing");
        assertEquals(0.0, TinyLatents.maxAbsDiff(params, ranks.get(0).params()), 1e-6);
        assertEquals(0.0, TinyLatents.maxAbsDiff(ranks.get(0).params(), ranks.get(1).params()), 0.0);
        FlatLayout layout = FlatLayout.of(h.task.buildNetwork().parameters(), ModelState.DEFAULT_CHUNK_FLOATS);
        assertEquals(0.0, TinyLatents.maxAbsDiff(moments, moments(out, "ck", layout)), 1e-7);
    }

    private record UNetTaskHolder(dev.avatartrain.train.unet.UNetTask task) {
        UNetTaskHolder(Path dir) throws Exception {
            this(TinyLatents.task(TinyLatents.write(dir, 4, 5, 2), 2));
        }
    }

    private static void addHalf(Map<String, float[]> sum, Map<String, float[]> x) {
        x.forEach((n, v) -> {
            float[] s = sum.computeIfAbsent(n, k -> new float[v.length]);
            for (int i = 0; i < v.length; i++) s[i] += v[i] / 2;
        });
    }

    /** Two steps, a checkpoint, new workers resuming from it for two more = four steps without a stop, bit for bit. */
    @Test
    void resumingFromTheWorkersPiecesEqualsAnUninterruptedRun(@TempDir Path dir) throws Exception {
        UNetTaskHolder h = new UNetTaskHolder(dir);
        TrainingSettings s = TinyLatents.settings(1, "cosine", 1, BUCKET);
        Map<String, float[]> start = TinyLatents.floats(h.task.buildNetwork().parameters());
        Storage out = Storage.forUrl(dir.resolve("out").toString(), null);
        List<Ended> whole = train(h.task, s, TWO_SHARDS, start, 4, out, null);
        train(h.task, s, TWO_SHARDS, start, 2, out, "ck2");
        String ck = out.locations().get(0).child("ck2");
        List<Map<String, float[]>> resumed = ring(2, (rank, c) -> {
            Network net = h.task.buildNetwork();
            try (DataParallelWorker w = new DataParallelWorker(net, h.task, s, c); Storage in = Storage.forUrl(ck, null)) {
                w.resume(in, ck);
                TrainingTask.BatchSource data = h.task.open(TWO_SHARDS.get(rank));
                for (int k = 2; k < 4; k++) w.step(data, k, true);
                return TinyLatents.floats(net.parameters());
            }
        });
        assertEquals(0.0, TinyLatents.maxAbsDiff(whole.get(0).params(), resumed.get(0)), 0.0);
        assertEquals(0.0, TinyLatents.maxAbsDiff(whole.get(1).params(), resumed.get(1)), 0.0);
    }

    /** Pieces written by 2 ranks read back by each of 3 (a run resumed with more workers): every rank gets its shards. */
    @Test
    void momentPiecesAreReadBackByAnyNumberOfWorkers(@TempDir Path dir) throws Exception {
        FlatLayout layout = new FlatLayout(List.of("a", "b", "c"), List.of(new long[]{7, 1000}, new long[]{5}, new long[]{4001}),
                ModelState.DEFAULT_CHUNK_FLOATS);
        GradientBuckets buckets = new GradientBuckets(layout, 2500);
        Storage out = Storage.forUrl(dir.toString(), null);
        for (int rank = 0; rank < 2; rank++) {
            List<long[]> ranges = buckets.ownedRanges(2, rank);
            List<FloatBuffer[]> m = new ArrayList<>();
            for (long[] r : ranges) {
                float[] a = new float[(int) r[1]], b = new float[(int) r[1]];
                for (int i = 0; i < a.length; i++) {
                    a[i] = r[0] + i;
                    b[i] = -(r[0] + i);
                }
                m.add(new FloatBuffer[]{FloatBuffer.wrap(a), FloatBuffer.wrap(b)});
            }
            CheckpointPieces.writeMoments(out, "ck", rank, 2, layout.total(), ranges, m);
        }
        assertEquals("ck/" + Checkpoints.MODEL + " is missing", CheckpointPieces.verify(out, "ck", 2));
        long total = 0;
        for (int rank = 0; rank < 3; rank++) {
            List<long[]> want = buckets.ownedRanges(3, rank);
            try (Storage in = Storage.forUrl(dir.resolve("ck").toString(), null)) {
                CheckpointPieces.readMoments(in, "ck", layout, want, (part, at, v) -> {
                    for (int i = 0; v.hasRemaining(); i++) assertEquals((part == 0 ? 1 : -1) * (float) (at + i), v.get(), 0f);
                });
            }
            total += buckets.ownedLength(3, rank);
        }
        assertEquals(layout.total(), total, "the 3 ranks' shards cover the buffer");
    }

    /**
     * Events, not timings: on the last micro-batch of an accumulation, bucket k's reduction starts after its last
     * gradient is final and before the backward pass ends (the overlap); buckets go out in index order; the earlier
     * micro-batch sends nothing (its gradients are never reported as final to the exchange).
     */
    @Test
    void bucketsAreReducedInOrderAsTheBackwardPassFinishesThem(@TempDir Path dir) throws Exception {
        UNetTaskHolder h = new UNetTaskHolder(dir);
        TrainingSettings s = TinyLatents.settings(2, "constant", 1, BUCKET);
        List<List<String>> events = ring(2, (rank, c) -> {
            List<String> log = Collections.synchronizedList(new ArrayList<>());
            Collective counted = new Recording(c, log);
            try (DataParallelWorker w = new DataParallelWorker(h.task.buildNetwork(), h.task, s, counted)) {
                w.startFromRankZero();
                log.clear();
                w.events(new DataParallelWorker.Events() {
                    @Override
                    public void gradientFinal(String tensor) {
                        log.add("final " + tensor);
                    }

                    @Override
                    public void reductionStarted(int bucket) {
                        log.add("reduce " + bucket);
                    }
                });
                w.step(h.task.open(TWO_SHARDS.get(rank)), 0, true);
                for (GradientBuckets.Bucket b : w.buckets().all()) {
                    int at = log.indexOf("reduce " + b.index());
                    assertTrue(at > 0, "bucket " + b.index() + " was reduced");
                    for (int t = b.firstTensor(); t <= b.lastTensor(); t++) {
                        int fin = log.indexOf("final " + w.layout().names().get(t));
                        assertTrue(fin >= 0 && fin < at, "tensor " + t + " final before its bucket's reduction");
                    }
                    if (b.index() > 0) assertTrue(log.indexOf("reduce " + (b.index() - 1)) < at, "in order");
                }
                int lastFinal = 0;
                for (int i = 0; i < log.size(); i++) if (log.get(i).startsWith("final ")) lastFinal = i;
                assertTrue(log.indexOf("reduce 0") < lastFinal, "the first bucket is reduced while the backward pass goes on: " + log);
                int firstFinal = log.indexOf(log.stream().filter(x -> x.startsWith("final ")).findFirst().orElseThrow());
                assertTrue(log.indexOf("reduceScatter") > firstFinal, "no exchange before the last micro-batch's backward pass");
                return log;
            }
        });
        assertEquals(events.get(0).stream().filter(x -> x.startsWith("reduce ")).toList(),
                events.get(1).stream().filter(x -> x.startsWith("reduce ")).toList(), "both ranks reduce the same buckets in the same order");
    }

    /** A collective that logs each call, then passes it on. */
    record Recording(Collective inner, List<String> log) implements Collective {
        @Override
        public int rank() {
            return inner.rank();
        }

        @Override
        public int size() {
            return inner.size();
        }

        @Override
        public void allReduce(FloatBuffer data) {
            log.add("allReduce");
            inner.allReduce(data);
        }

        @Override
        public void reduceScatter(FloatBuffer data) {
            log.add("reduceScatter");
            inner.reduceScatter(data);
        }

        @Override
        public void allGather(FloatBuffer data) {
            log.add("allGather");
            inner.allGather(data);
        }

        @Override
        public void allReduce(double[] values) {
            inner.allReduce(values);
        }

        @Override
        public void barrier() {
            inner.barrier();
        }

        @Override
        public long bytesSent() {
            return inner.bytesSent();
        }

        @Override
        public long bytesReceived() {
            return inner.bytesReceived();
        }

        @Override
        public void close() {
            inner.close();
        }
    }
}
