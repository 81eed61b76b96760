package dev.avatartrain.train;

import java.io.IOException;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ForkJoinPool;
import java.util.function.BiConsumer;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.KryoSerializable;
import com.esotericsoftware.kryo.io.Input;
import com.esotericsoftware.kryo.io.Output;

import org.apache.spark.Partitioner;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.serializer.KryoSerializer;
import org.apache.spark.storage.StorageLevel;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import dev.avatartrain.models.nn.Network;
import dev.avatartrain.models.nn.QuietSameDiff;
import dev.avatartrain.train.optim.AdamW;
import dev.avatartrain.train.optim.GradientClipping;
import dev.avatartrain.train.optim.LrSchedule;
import scala.Tuple2;

/**
 * One round of data-parallel training on Spark (DESIGN.md §3, docs/engine.md), with the state moved in chunks of a
 * flat float32 buffer ({@link FlatLayout}) and never as one object:
 * <ol>
 * <li>the driver publishes every chunk of the parameters (and, when averaging, of both AdamW moments) as a disk-only
 * block of its block manager ({@link PublishedChunks}: the driver's heap holds the state once);</li>
 * <li>every partition (a shard of whole items) rebuilds them in its network and trains; it emits its result as
 * {@code (key, chunk)} pairs, one chunk at a time, into the shuffle;</li>
 * <li>the shuffle reduces each key on the executors (a reduce-scatter: one key per reduce partition), computing each
 * reduced chunk's sum of squares there;</li>
 * <li>the driver streams the reduced chunks back one at a time (one job each, the next fetched while one is applied) and updates its one copy of
 * the state ({@link ModelState}) in place.</li>
 * </ol>
 * Two modes. <b>Exact</b> ({@code averaging_frequency: 1}): workers return their accumulated gradients, the reduction
 * sums them, the driver clips the averaged gradient by its global norm (from the per-chunk sums of squares) and takes
 * one AdamW step: N workers × batch B equal one machine with batch N·B, and no optimizer state travels.
 * <b>Averaging</b> (H &gt; 1): every worker takes H AdamW steps from the published parameters and moments; parameters
 * and both moments are averaged (DL4J's parameter averaging, moments averaged too).
 * Sampling in a task is seeded by (seed, round, partition), so a task Spark retries computes the same result.
 */
public final class ParameterAveraging {
    /** What stays fixed over a run. */
    public record Settings(int accumulation, double maxGradNorm, LrSchedule schedule, double beta1, double beta2,
                           double epsilon, double weightDecay, long seed) implements Serializable {}

    /**
     * The outcome of a round: mean loss, gradient norm and learning rate over its steps; samples drawn; how long the
     * round took on the driver and the mean seconds a task spent computing (the rest is communication and scheduling);
     * bytes each worker received and sent.
     */
    public record Round(double loss, double gradNorm, double lr, long samples, int partitions, double seconds, double computeSeconds,
                        long bytesInPerWorker, long bytesOutPerWorker, Phases phases) {}

    /**
     * Driver-side seconds of a round's phases: publishing the state's chunks; the training stage and the reduce stage up to the
     * per-chunk summary (includes the tasks' compute); streaming the reduced chunks back and applying them.
     */
    public record Phases(double publish, double trainAndReduce, double streamAndApply) {}

    /** Statistics a partition reports under {@link #STATS}: loss sum, gradient-norm sum, lr sum, steps, samples, compute s. */
    static final int STATS_SIZE = 6;

    /**
     * What travels through the shuffle: a chunk of floats, or (under the key after the last chunk) a partition's
     * statistics. Reduced by adding in place. Its floats are written and read in bulk, 1 MiB at a time, under Java
     * serialisation (Spark's default serializer: the persisted reduced blocks the driver fetches, task results) and
     * Kryo (the reduce shuffle; the rest under Kryo): their own float-array paths take one element
     * per call (Java's took 15 % of the 74 M adapter's rounds on local[2], JFR).
     */
    public static final class Piece implements java.io.Externalizable, KryoSerializable {
        private static final long serialVersionUID = 2L;
        private static final int BLOCK_FLOATS = 1 << 18;
        float[] values;
        double[] stats;
        double sumOfSquares;

        /** For deserialisation. */
        public Piece() {}

        public Piece(float[] values, double[] stats) {
            this.values = values;
            this.stats = stats;
        }

        /** The chunk's floats (null for statistics). */
        public float[] values() {
            return values;
        }

        Piece plus(Piece o) {
            if (values != null) for (int i = 0; i < values.length; i++) values[i] += o.values[i];
            if (stats != null) for (int i = 0; i < stats.length; i++) stats[i] += o.stats[i];
            return this;
        }

        Piece withSumOfSquares() {
            double s = 0;
            if (values != null) for (float v : values) s += (double) v * v;
            sumOfSquares = s;
            return this;
        }

        // DataOutput.write / DataInput.readFully copy whole blocks on both streams (ObjectOutput, and the Data*Stream
        // wrappers over Kryo's Output/Input, which forward to their bulk writeBytes/read)
        private void writeTo(java.io.DataOutput out) throws IOException {
            out.writeDouble(sumOfSquares);
            out.writeInt(stats == null ? -1 : stats.length);
            if (stats != null) for (double d : stats) out.writeDouble(d);
            out.writeInt(values == null ? -1 : values.length);
            if (values == null) return;
            ByteBuffer buf = ByteBuffer.allocate(4 * Math.min(BLOCK_FLOATS, values.length)).order(ByteOrder.LITTLE_ENDIAN);
            for (int at = 0; at < values.length; at += BLOCK_FLOATS) {
                int n = Math.min(BLOCK_FLOATS, values.length - at);
                buf.clear();
                buf.asFloatBuffer().put(values, at, n);
                out.write(buf.array(), 0, 4 * n);
            }
        }

        private void readFrom(java.io.DataInput in) throws IOException {
            sumOfSquares = in.readDouble();
            int ns = in.readInt();
            stats = ns < 0 ? null : new double[ns];
            for (int i = 0; i < ns; i++) stats[i] = in.readDouble();
            int nv = in.readInt();
            values = nv < 0 ? null : new float[nv];
            if (values == null) return;
            ByteBuffer buf = ByteBuffer.allocate(4 * Math.min(BLOCK_FLOATS, nv)).order(ByteOrder.LITTLE_ENDIAN);
            for (int at = 0; at < nv; at += BLOCK_FLOATS) {
                int n = Math.min(BLOCK_FLOATS, nv - at);
                in.readFully(buf.array(), 0, 4 * n);
                buf.clear();
                buf.asFloatBuffer().get(values, at, n);
            }
        }

        @Override
        public void writeExternal(java.io.ObjectOutput out) throws IOException {
            writeTo(out);
        }

        @Override
        public void readExternal(java.io.ObjectInput in) throws IOException {
            readFrom(in);
        }

        @Override
        public void write(Kryo kryo, Output out) {
            try {
                writeTo(new java.io.DataOutputStream(out));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        @Override
        public void read(Kryo kryo, Input in) {
            try {
                readFrom(new java.io.DataInputStream(in));
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }

    /** Key k goes to reduce partition k: every reduced chunk is its own partition, so the driver streams one at a time. */
    static final class ByKey extends Partitioner {
        private final int n;

        ByKey(int n) {
            this.n = n;
        }

        @Override
        public int numPartitions() {
            return n;
        }

        @Override
        public int getPartition(Object key) {
            return (Integer) key;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof ByKey b && b.n == n;
        }

        @Override
        public int hashCode() {
            return n;
        }
    }

    /** A worker's network, and its optimizer in averaging mode (with its hyperparameters), reused within an executor JVM. */
    record Slot(Network net, AdamW optimizer, List<Double> hyper) {}

    private static final Map<String, ConcurrentLinkedQueue<Slot>> SLOTS = new ConcurrentHashMap<>();

    private ParameterAveraging() {}

    /**
     * Runs one round of {@code steps} optimizer steps from {@code state} and updates {@code state} in place (its step
     * advances by {@code steps}). {@code exact}: gradient exchange with one step on the driver (needs steps == 1).
     */
    public static Round round(JavaSparkContext sc, TrainingTask task, List<List<String>> shards, Settings s, ModelState state,
                              long round, int steps, boolean exact) {
        if (exact && steps != 1) throw new IllegalArgumentException("exact data-parallel rounds take one step, got " + steps);
        long t0 = System.nanoTime();
        int n = shards.size();
        FlatLayout layout = state.layout();
        long step = state.step();
        double[] stats = new double[STATS_SIZE];
        if (exact) {
            double[] sumSq = new double[1];
            AdamW opt = new AdamW(s.beta1(), s.beta2(), s.epsilon(), s.weightDecay());
            double lr = s.schedule().lr(step);
            double[] norm = new double[1];
            float[] clip = new float[1];
            Phases ph = exchange(sc, task, shards, s, state, round, 1, true, stats, sumSq, (c, values) -> {
                if (c == 0) { // the global norm of the averaged gradient, from the reduce stage's per-chunk sums of squares
                    norm[0] = Math.sqrt(sumSq[0]) / n;
                    clip[0] = (float) GradientClipping.scale(norm[0], s.maxGradNorm());
                }
                opt.stepChunk(state.params(c), values, n, clip[0], state.expAvg(c), state.expAvgSq(c), step + 1, lr);
            });
            state.setStep(step + 1);
            long bytes = 4 * layout.total();
            return new Round(stats[0] / n, norm[0], lr, (long) stats[4], n, (System.nanoTime() - t0) / 1e9, stats[5] / n, bytes, bytes, ph);
        }
        int chunks = layout.chunks();
        Phases ph = exchange(sc, task, shards, s, state, round, steps, false, stats, new double[1], (key, values) -> {
            float[] into = state.part(key / chunks, key % chunks);
            for (int i = 0; i < into.length; i++) into[i] = values[i] / n;
        });
        state.setStep(step + steps);
        long bytes = 3 * 4 * layout.total();
        double k = stats[3];
        return new Round(stats[0] / k, stats[1] / k, stats[2] / k, (long) stats[4], n, (System.nanoTime() - t0) / 1e9, stats[5] / n, bytes, bytes, ph);
    }

    /**
     * The exchange of a round: publishes the state's chunks, runs the partitions, reduces their chunks by key on the
     * executors, fills {@code stats} (summed over partitions) and {@code sumOfSquares[0]} (of all reduced chunks),
     * then hands every reduced chunk to {@code apply} in key order, one at a time. Keys: exact, chunk c of the
     * gradient sum; averaging, {@code part × chunks + c} for the parameters (part 0) and both moments (1, 2).
     */
    static Phases exchange(JavaSparkContext sc, TrainingTask task, List<List<String>> shards, Settings s, ModelState state, long round,
                         int steps, boolean exact, double[] stats, double[] sumOfSquares, BiConsumer<Integer, float[]> apply) {
        FlatLayout layout = state.layout();
        int chunks = layout.chunks();
        int parts = exact ? 1 : 3;
        int keys = parts * chunks;
        long step = state.step();
        List<float[]> snapshot = new ArrayList<>();
        for (int p = 0; p < parts; p++) for (int c = 0; c < chunks; c++) snapshot.add(state.part(p, c));
        JavaPairRDD<Integer, Piece> reduced = null;
        long t0 = System.nanoTime(), t1, t2;
        PublishedChunks in = PublishedChunks.publish(sc, snapshot);
        try {
            t1 = System.nanoTime();
            List<Integer> ids = new ArrayList<>();
            for (int i = 0; i < shards.size(); i++) ids.add(i);
            reduced = sc.parallelize(ids, shards.size())
                    .mapPartitionsWithIndex((p, it) -> runPartition(task, shards.get(p), s, in, layout, step, round, p, steps, exact), false)
                    .mapToPair(t -> t)
                    // No map-side combine: a partition emits each key once, and combining would hold all its chunks. Kryo for
                    // this shuffle whatever spark.serializer says: Java serialisation keeps every object a stream wrote
                    // until the stream resets, and each reduce partition's stream gets one chunk, so a task would hold all
                    // of its chunks (a 2 GB executor ran out of heap on a 220 M-parameter model).
                    .combineByKey(x -> x, Piece::plus, Piece::plus, new ByKey(keys + 1), false, new KryoSerializer(sc.getConf()))
                    .mapValues(Piece::withSumOfSquares)
                    // in local mode the block manager is the driver's: in memory the reduced chunks (a gradient's size)
                    // would sit in the heap beside the state, which Spark's memory manager does not count
                    .persist(sc.isLocal() ? StorageLevel.DISK_ONLY() : StorageLevel.MEMORY_AND_DISK());
            List<Tuple2<Integer, double[]>> summary = reduced
                    .map(kv -> new Tuple2<>(kv._1(), kv._2().stats != null ? kv._2().stats : new double[]{kv._2().sumOfSquares}))
                    .collect();
            boolean sawStats = false;
            for (Tuple2<Integer, double[]> t : summary) {
                if (t._1() == keys) {
                    System.arraycopy(t._2(), 0, stats, 0, STATS_SIZE);
                    sawStats = true;
                } else if (t._1() < chunks) {
                    sumOfSquares[0] += t._2()[0];
                }
            }
            if (!sawStats || summary.size() != keys + 1)
                throw new IllegalStateException("round " + round + ": expected " + (keys + 1) + " reduced keys, got " + summary.size());
            t2 = System.nanoTime();
            stream(reduced, keys, apply);
            long t3 = System.nanoTime();
            return new Phases((t1 - t0) / 1e9, (t2 - t1) / 1e9, (t3 - t2) / 1e9);
        } finally {
            if (reduced != null) reduced.unpersist(false);
            in.close();
        }
    }

    /**
     * Reduced chunks fetched ahead of the one being applied (each by its own job). One: with three, the standalone
     * cluster test's surviving 2 GB executor ran out of heap once while recomputing the lost executor's chunks with
     * results of the jobs ahead waiting in its block store.
     */
    static final int FETCH_AHEAD = 1;

    /**
     * Hands the reduced chunks (keys 0 … keys − 1, one per partition, all computed and persisted by then) to
     * {@code apply} in key order. Each is read from the block manager (its {@code rdd_<id>_<k>} block: the object
     * itself in local mode, else fetched from the executor holding it, to a temporary file above
     * {@code spark.network.maxRemoteBlockSizeFetchToMem} and deserialised as a stream), so the driver's heap holds the
     * chunk's floats and no serialised copy; a block that is gone (a lost executor) is recomputed by a one-partition
     * job. {@link #FETCH_AHEAD} fetches run while a chunk is applied, so the driver holds at most
     * {@code FETCH_AHEAD + 1} reduced chunks (64 MiB).
     */
    static void stream(JavaPairRDD<Integer, Piece> reduced, int keys, BiConsumer<Integer, float[]> apply) {
        // threads made here inherit this thread's Spark job properties (job group, scheduler pool)
        ExecutorService fetchers = Executors.newFixedThreadPool(FETCH_AHEAD, r -> {
            Thread t = new Thread(r, "avatar-train-chunk-fetch");
            t.setDaemon(true);
            return t;
        });
        try {
            java.util.ArrayDeque<Future<List<Tuple2<Integer, Piece>>>> pending = new java.util.ArrayDeque<>();
            int next = 0;
            for (; next < Math.min(FETCH_AHEAD, keys); next++) pending.add(fetch(fetchers, reduced, next));
            for (int k = 0; k < keys; k++) {
                List<Tuple2<Integer, Piece>> current = awaitChunk(pending.poll());
                if (next < keys) pending.add(fetch(fetchers, reduced, next++));
                if (current.size() != 1 || current.get(0)._1() != k)
                    throw new IllegalStateException("reduced partition " + k + " held " + current.size() + " chunks");
                apply.accept(k, current.get(0)._2().values);
            }
        } finally {
            fetchers.shutdownNow();
        }
    }

    private static Future<List<Tuple2<Integer, Piece>>> fetch(ExecutorService fetchers, JavaPairRDD<Integer, Piece> reduced, int partition) {
        return fetchers.submit(() -> {
            List<Tuple2<Integer, Piece>> stored = storedPartition(reduced, partition);
            return stored != null ? stored : reduced.collectPartitions(new int[]{partition})[0];
        });
    }

    /** The records of a persisted partition, read from the block manager; null when no block manager has it. */
    @SuppressWarnings("unchecked")
    static List<Tuple2<Integer, Piece>> storedPartition(JavaPairRDD<Integer, Piece> rdd, int partition) {
        scala.Option<org.apache.spark.storage.BlockResult> block = org.apache.spark.SparkEnv.get().blockManager()
                .get(new org.apache.spark.storage.RDDBlockId(rdd.id(), partition), scala.reflect.ClassTag$.MODULE$.AnyRef());
        if (block.isEmpty()) return null;
        List<Tuple2<Integer, Piece>> out = new ArrayList<>();
        scala.collection.Iterator<Object> it = block.get().data();
        while (it.hasNext()) out.add((Tuple2<Integer, Piece>) it.next()); // to the end: that releases a local block's read lock
        return out;
    }

    private static <T> T awaitChunk(Future<T> f) {
        try {
            return f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while fetching a reduced chunk", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw new IllegalStateException(e.getCause());
        }
    }

    /** A partition's work, on the task's cores; returns its chunks lazily (the shuffle writer pulls one at a time). */
    private static Iterator<Tuple2<Integer, Piece>> runPartition(TrainingTask task, List<String> shard, Settings s,
                                                                PublishedChunks in, FlatLayout layout, long step, long round,
                                                                int partition, int steps, boolean exact) throws Exception {
        TaskContext ctx = TaskContext.get();
        int cpus = ctx != null ? ctx.cpus() : Runtime.getRuntime().availableProcessors();
        // a pool of the task's own: tasks running at once in one executor (local[N], or more than one task slot per
        // executor) must not share one, or they run one after the other (a pool shared per core count did that)
        ForkJoinPool pool = new ForkJoinPool(cpus);
        Slot slot = borrow(task, s, !exact);
        if (ctx != null) ctx.addTaskCompletionListener((org.apache.spark.util.TaskCompletionListener) c -> SLOTS.get(task.networkKey()).add(slot));
        // the data source is opened on the task's own thread (it may look at the TaskContext), the work runs in a pool
        // of the task's cores, where the kernels' parallel loops and AdamW's parallel pass run too
        TrainingTask.BatchSource data = task.open(shard);
        List<Map<String, INDArray>> out = new ArrayList<>();
        double[] stats;
        try {
            stats = pool.submit(() -> {
                QuietSameDiff.install();
                GpuAssignment.useAssignedGpu(ctx);
                Nd4j.getEnvironment().setMaxThreads(cpus); // libnd4j's OpenMP threads follow the task's cores too
                return compute(task, slot, data, s, in, layout, step, round, partition, steps, exact, out);
            }).get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception x) throw x;
            throw e;
        } finally {
            pool.shutdown();
        }
        // exact mode emits the network's own gradient arrays: once the shuffle writer has copied them, their memory
        // goes back to the kernels' pool for the next round's backward pass
        Runnable done = exact ? () -> slot.net().recycle(out.get(0)) : () -> {};
        return emit(layout, out, stats, done);
    }

    /**
     * Trains on one partition: sets the network (and optimizer) from the published chunks, then either accumulates one
     * step's gradients (exact) or runs {@code steps} AdamW steps; adds the arrays to emit to {@code out} (gradients;
     * or parameters, exp_avg, exp_avg_sq) and returns the statistics.
     */
    static double[] compute(TrainingTask task, Slot slot, TrainingTask.BatchSource data, Settings s, PublishedChunks in, FlatLayout layout,
                            long step, long round, int partition, int steps, boolean exact, List<Map<String, INDArray>> out) {
        long t0 = System.nanoTime();
        int chunks = layout.chunks();
        Map<String, INDArray> params = slot.net().parameters();
        Map<Integer, float[]> buffers = new java.util.HashMap<>(); // one per chunk length (the last chunk is shorter)
        java.util.function.IntFunction<float[]> read = k -> {
            float[] b = buffers.computeIfAbsent(in.length(k), float[]::new);
            in.read(k, b);
            return b;
        };
        for (int c = 0; c < chunks; c++) layout.scatter(read.apply(c), c, params);
        StepRunner runner = new StepRunner(slot.net(), task.lossName(), s.accumulation(), s.maxGradNorm(), s.schedule());
        var rng = StepRunner.rng(s.seed(), round, partition);
        double[] stats = new double[STATS_SIZE];
        if (exact) {
            StepRunner.Accumulated a = runner.accumulate(data, rng);
            out.add(a.gradients());
            stats[0] = a.loss();
            stats[3] = 1;
            stats[4] = (long) s.accumulation() * task.batchSize();
        } else {
            AdamW opt = slot.optimizer();
            opt.zeroState(params, step);
            Map<String, INDArray> moments = opt.state();
            Map<String, INDArray> m = new java.util.LinkedHashMap<>(), v = new java.util.LinkedHashMap<>();
            for (String name : layout.names()) {
                m.put(name, moments.get(name + ".exp_avg"));
                v.put(name, moments.get(name + ".exp_avg_sq"));
            }
            for (int c = 0; c < chunks; c++) {
                layout.scatter(read.apply(chunks + c), c, m);
                layout.scatter(read.apply(2 * chunks + c), c, v);
            }
            StepRunner.Totals t = runner.run(data, rng, opt, step, steps, task.batchSize());
            out.add(params);
            out.add(m);
            out.add(v);
            stats[0] = t.lossSum();
            stats[1] = t.gradNormSum();
            stats[2] = t.lrSum();
            stats[3] = t.steps();
            stats[4] = t.samples();
        }
        stats[5] = (System.nanoTime() - t0) / 1e9;
        return stats;
    }

    /**
     * The pairs of a partition, made as they are pulled: chunk keys of every emitted buffer in order, then the
     * statistics; {@code done} runs when the arrays have been read in full.
     */
    static Iterator<Tuple2<Integer, Piece>> emit(FlatLayout layout, List<Map<String, INDArray>> arrays, double[] stats, Runnable done) {
        int chunks = layout.chunks();
        int keys = arrays.size() * chunks;
        return new Iterator<>() {
            int next = 0;

            @Override
            public boolean hasNext() {
                return next <= keys;
            }

            @Override
            public Tuple2<Integer, Piece> next() {
                if (next > keys) throw new NoSuchElementException();
                int k = next++;
                if (k == keys) {
                    done.run();
                    return new Tuple2<>(k, new Piece(null, stats.clone()));
                }
                float[] v = new float[layout.chunkLength(k % chunks)];
                layout.gather(arrays.get(k / chunks), k % chunks, v);
                return new Tuple2<>(k, new Piece(v, null));
            }
        };
    }

    static Slot borrow(TrainingTask task, Settings s, boolean withOptimizer) {
        Slot slot = SLOTS.computeIfAbsent(task.networkKey(), k -> new ConcurrentLinkedQueue<>()).poll();
        Network net = slot != null ? slot.net() : task.buildNetwork();
        if (!withOptimizer) return new Slot(net, null, null); // exact mode keeps no moments on the workers
        List<Double> hyper = List.of(s.beta1(), s.beta2(), s.epsilon(), s.weightDecay());
        // a pooled optimizer's moment arrays are reused: they are overwritten from the published chunks before every round
        if (slot != null && slot.optimizer() != null && hyper.equals(slot.hyper())) return slot;
        return new Slot(net, new AdamW(s.beta1(), s.beta2(), s.epsilon(), s.weightDecay()), hyper);
    }
}
