package dev.avatartrain.train;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.IntStream;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import dev.avatartrain.collective.Collective;
import dev.avatartrain.collective.Shard;
import dev.avatartrain.models.nn.Network;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.tensors.NativeMemory;
import dev.avatartrain.train.optim.AdamW;
import dev.avatartrain.train.optim.GradientClipping;

/**
 * One worker of data-parallel training over a {@link Collective} (docs/engine.md): its network, its gradient buckets
 * and its part of the optimizer state stay here across steps. No Spark: the Spark engine runs it inside a barrier
 * task, tests run it on threads.
 *
 * <p><b>Exact mode</b> ({@code averaging_frequency: 1}): each micro-batch's gradients are added into the flat
 * buckets ({@link GradientBuckets}) as the backward pass finishes them; on the last micro-batch of the accumulation a
 * bucket is reduce-scattered on the communication thread as soon as its last gradient is final, while the backward
 * pass goes on (earlier micro-batches communicate nothing). Then the global norm comes from an all-reduce of the
 * shards' sums of squares, AdamW steps this rank's shard of every bucket (ZeRO-1: the moments of that shard live
 * only here), and the parameters are all-gathered bucket by bucket, each gathered while the next shard steps. N
 * workers × batch B are one machine with batch N·B to float32 rounding.
 *
 * <p><b>Averaging mode</b> (H &gt; 1): each worker takes local AdamW steps with moments of its own; every H steps
 * (and at the end of a segment) parameters and both moments are all-reduced and divided by N (DL4J's parameter
 * averaging), so every rank then holds the same state.
 *
 * <p>Only the communication thread calls the collective, in the same order on every rank (buckets in index order).
 */
public final class DataParallelWorker implements AutoCloseable {
    /** One optimizer step as the workers saw it: means over ranks, this rank's wall and compute seconds. */
    public record StepStats(long step, double loss, double gradNorm, double lr, long samples, double seconds,
                            double computeSeconds, long bytesSent, long bytesReceived) {}

    /** What the backward pass and the exchange did, in order (tests compare the order, never timings). */
    public interface Events {
        void gradientFinal(String tensor);

        void reductionStarted(int bucket);
    }

    private static final Events NO_EVENTS = new Events() {
        @Override
        public void gradientFinal(String tensor) {
        }

        @Override
        public void reductionStarted(int bucket) {
        }
    };

    private final Network net;
    private final TrainingTask task;
    private final TrainingSettings settings;
    private Collective collective;
    private final int rank, ranks;
    private final FlatLayout layout;
    private final GradientBuckets buckets;
    private final Map<String, Integer> tensorIndex = new HashMap<>();
    private final ExecutorService comm;
    private final INDArray[] bucketArrays; // ND4J memory: counted against the worker's native limit
    private final FloatBuffer[] bucketBuffers;
    private final float[][] expAvg, expAvgSq; // exact mode: this rank's shard of each bucket
    private final AdamW optimizer;
    private final Map<Integer, float[][]> scratch = new HashMap<>();
    private Events events = NO_EVENTS;
    private long waitedNanos;

    public DataParallelWorker(Network net, TrainingTask task, TrainingSettings settings, Collective collective) {
        this.net = net;
        this.task = task;
        this.settings = settings;
        this.collective = collective;
        this.rank = collective.rank();
        this.ranks = collective.size();
        this.layout = FlatLayout.of(net.parameters(), ModelState.DEFAULT_CHUNK_FLOATS);
        for (int t = 0; t < layout.names().size(); t++) tensorIndex.put(layout.names().get(t), t);
        this.buckets = new GradientBuckets(layout, settings.bucketFloats());
        this.comm = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "avatar-train-collective-" + rank);
            t.setDaemon(true);
            return t;
        });
        int n = buckets.all().size();
        bucketArrays = new INDArray[n];
        bucketBuffers = new FloatBuffer[n];
        for (GradientBuckets.Bucket b : buckets.all()) {
            bucketArrays[b.index()] = Nd4j.createUninitializedDetached(DataType.FLOAT, b.length());
            bucketBuffers[b.index()] = bucketArrays[b.index()].data().asNio().order(ByteOrder.nativeOrder()).asFloatBuffer();
        }
        optimizer = new AdamW(settings.beta1(), settings.beta2(), settings.epsilon(), settings.weightDecay());
        if (settings.exact()) {
            expAvg = new float[n][];
            expAvgSq = new float[n][];
            for (GradientBuckets.Bucket b : buckets.all()) {
                int len = (int) GradientBuckets.shard(b, ranks, rank).length();
                expAvg[b.index()] = new float[len];
                expAvgSq[b.index()] = new float[len];
            }
        } else {
            expAvg = expAvgSq = null;
            optimizer.zeroState(net.parameters(), 0);
        }
    }

    /** The same worker on a new collective of the same ranks (the next segment's ring); its state stays. */
    public DataParallelWorker rejoin(Collective next) {
        if (next.rank() != rank || next.size() != ranks)
            throw new IllegalArgumentException("rank " + next.rank() + " of " + next.size() + " cannot continue rank " + rank + " of " + ranks);
        this.collective = next;
        return this;
    }

    public FlatLayout layout() {
        return layout;
    }

    public GradientBuckets buckets() {
        return buckets;
    }

    public Network network() {
        return net;
    }

    public int rank() {
        return rank;
    }

    public int ranks() {
        return ranks;
    }

    /** Records the order of gradients and reductions (tests). */
    public void events(Events e) {
        this.events = e == null ? NO_EVENTS : e;
    }

    /** A fresh start: every rank takes rank 0's parameters (an all-reduce with zeros elsewhere), zero moments. */
    public void startFromRankZero() {
        Map<String, INDArray> params = net.parameters();
        for (GradientBuckets.Bucket b : buckets.all()) {
            FloatBuffer buf = bucketBuffers[b.index()];
            if (rank == 0) layout.read(params, b.start(), buf.duplicate());
            else bucketArrays[b.index()].assign(0);
            await(comm.submit(() -> collective.allReduce(buf)));
            layout.write(buf.duplicate(), b.start(), params);
        }
    }

    /** Resumes from a checkpoint folder: the parameters, and the moments this rank holds (its shards, or all). */
    public void resume(Storage checkpoint, String location) throws IOException {
        CheckpointPieces.readModel(checkpoint, location, layout, net.parameters());
        if (settings.exact()) {
            List<long[]> owned = buckets.ownedRanges(ranks, rank);
            Map<Long, Integer> bucketOfRange = new HashMap<>();
            for (GradientBuckets.Bucket b : buckets.all()) {
                Shard s = GradientBuckets.shard(b, ranks, rank);
                if (s.length() > 0) bucketOfRange.put(b.start() + s.offset(), b.index());
            }
            java.util.TreeMap<Long, Integer> starts = new java.util.TreeMap<>(bucketOfRange);
            CheckpointPieces.readMoments(checkpoint, location, layout, owned, (part, start, values) -> {
                Map.Entry<Long, Integer> e = starts.floorEntry(start);
                float[] into = (part == 0 ? expAvg : expAvgSq)[e.getValue()];
                values.get(into, (int) (start - e.getKey()), values.remaining());
            });
        } else {
            Map<String, INDArray> m = moments(0), v = moments(1);
            CheckpointPieces.readMoments(checkpoint, location, layout, List.of(new long[]{0, layout.total()}),
                    (part, start, values) -> layout.write(values, start, part == 0 ? m : v));
        }
    }

    /** The AdamW moments of averaging mode by parameter name, in layout order: part 0 exp_avg, 1 exp_avg_sq. */
    private Map<String, INDArray> moments(int part) {
        Map<String, INDArray> state = optimizer.state(), out = new LinkedHashMap<>();
        for (String n : layout.names()) out.put(n, state.get(n + (part == 0 ? AdamW.EXP_AVG : AdamW.EXP_AVG_SQ)));
        return out;
    }

    /**
     * One optimizer step from {@code step} (steps taken so far). Exact mode: all ranks exchange; averaging mode: a
     * local step, and the average when {@code average} (the end of a round).
     */
    public StepStats step(TrainingTask.BatchSource data, long step, boolean average) {
        long t0 = System.nanoTime();
        waitedNanos = 0;
        long sent0 = collective.bytesSent(), received0 = collective.bytesReceived();
        double[] r = settings.exact() ? exactStep(data, step) : localStep(data, step, average);
        long wall = System.nanoTime() - t0;
        long samples = (long) ranks * settings.accumulation() * task.batchSize();
        return new StepStats(step + 1, r[0], r[1], r[2], samples, wall / 1e9, (wall - waitedNanos) / 1e9,
                collective.bytesSent() - sent0, collective.bytesReceived() - received0);
    }

    /** Gradients into the buckets, reduce-scattered as they complete: returns {loss, norm, lr} (means over ranks). */
    private double[] exactStep(TrainingTask.BatchSource data, long step) {
        var rng = StepRunner.rng(settings.seed(), step, rank);
        int accumulation = settings.accumulation();
        List<GradientBuckets.Bucket> all = buckets.all();
        int[] missing = new int[all.size()];
        boolean[] complete = new boolean[all.size()];
        int[] next = {0};
        List<Future<?>> reductions = new ArrayList<>();
        double loss = 0;
        for (int a = 0; a < accumulation; a++) {
            boolean first = a == 0, last = a == accumulation - 1;
            for (GradientBuckets.Bucket b : all) missing[b.index()] = b.lastTensor() - b.firstTensor() + 1;
            NativeMemory.releaseGarbageIfHigh();
            Network.LossAndGradients lg = net.lossAndGradients(data.next(rng), task.lossName(), (name, g) -> {
                int t = tensorIndex.get(name);
                GradientBuckets.Bucket b = all.get(buckets.bucketOf(t));
                FloatBuffer into = bucketBuffers[b.index()].duplicate();
                into.position((int) (layout.offset(t) - b.start())).limit((int) (layout.offset(t) - b.start() + layout.length(t)));
                FloatBuffer from = layout.tensor(g, t);
                if (accumulation == 1) into.put(from);
                else addScaled(into, from, first, accumulation);
                if (last) events.gradientFinal(name);
                if (last && --missing[b.index()] == 0) {
                    complete[b.index()] = true;
                    // in bucket order on every rank, whatever order the gradients completed in
                    while (next[0] < all.size() && complete[next[0]]) {
                        int k = next[0]++;
                        events.reductionStarted(k);
                        reductions.add(comm.submit(() -> collective.reduceScatter(bucketBuffers[k].duplicate())));
                    }
                }
            });
            loss += lg.loss() / accumulation;
            net.recycle(lg.gradients());
        }
        if (next[0] != all.size()) throw new IllegalStateException("the backward pass left buckets without their gradients");
        for (Future<?> f : reductions) await(f);

        double sumSq = IntStream.range(0, all.size()).parallel().mapToDouble(k -> {
            Shard s = GradientBuckets.shard(all.get(k), ranks, rank);
            FloatBuffer g = bucketBuffers[k];
            double q = 0;
            for (int i = (int) s.offset(), end = (int) s.end(); i < end; i++) q += (double) g.get(i) * g.get(i);
            return q;
        }).sum();
        double[] stats = {sumSq, loss};
        await(comm.submit(() -> collective.allReduce(stats)));
        double norm = Math.sqrt(stats[0]) / ranks, meanLoss = stats[1] / ranks;
        double lr = settings.schedule().lr(step);
        if (!Double.isFinite(meanLoss)) return new double[]{meanLoss, norm, lr}; // the caller stops; nothing is applied
        float clip = (float) GradientClipping.scale(norm, settings.maxGradNorm());
        Map<String, INDArray> params = net.parameters();
        List<Future<?>> gathers = new ArrayList<>();
        for (GradientBuckets.Bucket b : all) {
            Shard s = GradientBuckets.shard(b, ranks, rank);
            int len = (int) s.length();
            FloatBuffer buf = bucketBuffers[b.index()];
            if (len > 0) {
                float[][] pg = scratch.computeIfAbsent(len, k -> new float[][]{new float[k], new float[k]});
                layout.read(params, b.start() + s.offset(), FloatBuffer.wrap(pg[0]));
                buf.duplicate().position((int) s.offset()).get(pg[1], 0, len);
                optimizer.stepChunk(pg[0], pg[1], ranks, clip, expAvg[b.index()], expAvgSq[b.index()], step + 1, lr);
                buf.duplicate().position((int) s.offset()).put(pg[0], 0, len);
            }
            gathers.add(comm.submit(() -> collective.allGather(buf.duplicate())));
        }
        for (GradientBuckets.Bucket b : all) {
            await(gathers.get(b.index()));
            layout.write(bucketBuffers[b.index()].duplicate(), b.start(), params);
        }
        return new double[]{meanLoss, norm, lr};
    }

    /** {@code into} (+)= {@code from} / {@code divisor}, in parallel blocks. */
    private static void addScaled(FloatBuffer into, FloatBuffer from, boolean first, int divisor) {
        int n = from.remaining(), at = into.position(), fromAt = from.position();
        int block = 1 << 16;
        IntStream.range(0, (n + block - 1) / block).parallel().forEach(c -> {
            for (int i = c * block, end = Math.min(n, i + block); i < end; i++) {
                float g = from.get(fromAt + i) / divisor;
                into.put(at + i, first ? g : into.get(at + i) + g);
            }
        });
    }

    /** A local AdamW step with this rank's own moments, and the average when asked: returns {loss, norm, lr} (means). */
    private double[] localStep(TrainingTask.BatchSource data, long step, boolean average) {
        StepRunner runner = new StepRunner(net, task.lossName(), settings.accumulation(), settings.maxGradNorm(), settings.schedule());
        StepRunner.Totals t = runner.run(data, StepRunner.rng(settings.seed(), step, rank), optimizer, step, 1, task.batchSize());
        double[] stats = {t.lossSum(), t.gradNormSum(), t.lrSum()};
        await(comm.submit(() -> collective.allReduce(stats)));
        if (average && Double.isFinite(stats[0])) average();
        return new double[]{stats[0] / ranks, stats[1] / ranks, stats[2] / ranks};
    }

    /** Parameters and both moments all-reduced and divided by the number of workers. */
    private void average() {
        List<Map<String, INDArray>> parts = List.of(net.parameters(), moments(0), moments(1));
        for (Map<String, INDArray> part : parts) {
            for (GradientBuckets.Bucket b : buckets.all()) {
                FloatBuffer buf = bucketBuffers[b.index()];
                layout.read(part, b.start(), buf.duplicate());
                await(comm.submit(() -> collective.allReduce(buf.duplicate())));
                bucketArrays[b.index()].divi(ranks);
                layout.write(buf.duplicate(), b.start(), part);
            }
        }
    }

    /**
     * Writes this rank's pieces of the checkpoint into {@code dir} of {@code out}: rank 0 the parameters, every rank
     * the moments of the ranges it owns. Returns the names written.
     */
    public List<String> writeCheckpoint(Storage out, String dir, long step) throws IOException {
        List<String> written = new ArrayList<>();
        if (rank == 0) {
            CheckpointPieces.writeModel(out, dir, net.parameters(), step, task.networkKey());
            written.add(Checkpoints.MODEL);
        }
        List<long[]> ranges = buckets.ownedRanges(ranks, rank);
        List<FloatBuffer[]> moments = new ArrayList<>();
        if (settings.exact()) {
            for (GradientBuckets.Bucket b : buckets.all()) {
                if (expAvg[b.index()].length > 0)
                    moments.add(new FloatBuffer[]{FloatBuffer.wrap(expAvg[b.index()]), FloatBuffer.wrap(expAvgSq[b.index()])});
            }
        } else {
            Map<String, INDArray> m = moments(0), v = moments(1);
            for (long[] r : ranges) {
                FloatBuffer a = FloatBuffer.allocate((int) r[1]), s = FloatBuffer.allocate((int) r[1]);
                layout.read(m, r[0], a);
                layout.read(v, r[0], s);
                moments.add(new FloatBuffer[]{a.flip(), s.flip()});
            }
        }
        written.add(CheckpointPieces.writeMoments(out, dir, rank, ranks, layout.total(), ranges, moments));
        return written;
    }

    /** Waits for the communication thread, counting the wait as exposed communication. */
    private void await(Future<?> f) {
        long t = System.nanoTime();
        try {
            f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for the other workers", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            throw new IllegalStateException(e.getCause());
        } finally {
            waitedNanos += System.nanoTime() - t;
        }
    }

    /**
     * Stops the communication thread and leaves the memory to the garbage collector: for a worker whose step failed
     * and may still be running on another thread (freeing its buckets under it would crash the JVM).
     */
    public void abandon() {
        comm.shutdownNow();
    }

    /** Stops the communication thread and frees the buckets; the collective is the caller's. */
    @Override
    public void close() {
        comm.shutdownNow();
        for (INDArray a : bucketArrays) if (a != null && a.closeable()) a.close();
    }
}
