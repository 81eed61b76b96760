package dev.avatartrain.train.spark;

import java.io.Serializable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.spark.BarrierTaskContext;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.util.SerializableConfiguration;
import org.nd4j.linalg.factory.Nd4j;

import dev.avatartrain.collective.Collective;
import dev.avatartrain.collective.TcpRing;
import dev.avatartrain.models.nn.Network;
import dev.avatartrain.models.nn.QuietSameDiff;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.train.DataParallelWorker;
import dev.avatartrain.gpu.GpuCheck;
import dev.avatartrain.gpu.GpuMemory;
import dev.avatartrain.train.TrainingSegment;
import dev.avatartrain.train.TrainingSettings;
import dev.avatartrain.train.TrainingTask;
import dev.avatartrain.train.Validator;
import dev.avatartrain.train.WorkerMemory;

/**
 * The body of one barrier task: one worker for one training segment. It opens its shard's data, takes a network
 * (kept per executor JVM), checks that it fits, meets the other workers ({@code BarrierTaskContext.allGather} of each
 * one's ring address, within the time-out), joins the TCP ring, loads the segment's starting checkpoint (or keeps the
 * state it ended the previous segment with, when it is exactly that checkpoint's), and runs the
 * {@link TrainingSegment} on a pool of its cores; rank 0 reports to the driver.
 */
record SegmentTask(TrainingTask task, List<List<String>> shards, TrainingSettings settings, TrainingSegment.Plan plan,
                   String resumeFrom, String runId, Storage out, Validator.Plan validation, String metricsAddress, String token,
                   long timeoutSeconds, int coresPerExecutor, SerializableConfiguration hadoop, String memorySetting)
        implements Serializable {

    /** What a task returns: its outcome, or the reason it refused to train (the same on every rank). */
    record Result(int rank, TrainingSegment.Outcome outcome, String refusal) implements Serializable {}

    private static final Map<String, ConcurrentLinkedQueue<Network>> NETWORKS = new ConcurrentHashMap<>();
    private static final Map<Validator.Plan, Validator> VALIDATORS = new ConcurrentHashMap<>();
    /** A worker's state after a segment that ended in a checkpoint, by rank: the next segment starts from it. */
    private static final Map<String, Kept> KEPT = new ConcurrentHashMap<>();

    /** {@code segment}: the run id and the step of the checkpoint the state equals. */
    /** The task as the Scala function a barrier stage takes. */
    static final class Function extends scala.runtime.AbstractFunction1<scala.collection.Iterator<Integer>, scala.collection.Iterator<Result>>
            implements Serializable {
        private final SegmentTask body;

        Function(SegmentTask body) {
            this.body = body;
        }

        @Override
        public scala.collection.Iterator<Result> apply(scala.collection.Iterator<Integer> ranks) {
            try {
                return scala.collection.JavaConverters.asScalaIteratorConverter(body.run()).asScala();
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw new IllegalStateException(e.getMessage(), e);
            }
        }
    }

    private record Kept(DataParallelWorker worker, String segment, int ranks, TrainingSettings settings) {}

    Iterator<Result> run() throws Exception {
        BarrierTaskContext ctx = BarrierTaskContext.get();
        int rank = ctx.partitionId(), ranks = ctx.getTaskInfos().length;
        useTaskResources(ctx);
        TrainingTask.BatchSource data = task.open(shards.get(rank)); // on the task's thread: it may read the TaskContext
        String keptKey = task.networkKey() + "|" + out.locations().get(0) + "|" + rank;
        Kept kept = KEPT.remove(keptKey);
        if (kept != null && !(kept.ranks() == ranks && resumeFrom != null && kept.segment().equals(runId + "@" + plan.startStep())
                && kept.settings().equals(settings))) {
            kept.worker().close();
            giveBack(kept.worker().network());
            kept = null;
        }
        // a fresh run starts from rank 0's new network (task.initialise may load weights to fine-tune); a pooled
        // network holds an earlier run's weights, which the other ranks' copies are overwritten from rank 0
        Network net = kept != null ? kept.worker().network() : resumeFrom == null && rank == 0 ? fresh() : borrow();
        long parameters = 0;
        for (var p : net.parameters().values()) parameters += p.length();
        String host = SparkEnv.get().blockManager().blockManagerId().host();
        int here = 0;
        for (var info : ctx.getTaskInfos()) if (info.address().equals(ctx.getTaskInfos()[rank].address())) here++;
        String refusal = WorkerMemory.refusal(parameters, settings.exact(), ranks, here, memorySetting);
        GpuMemory gpu = refusal == null ? GpuCheck.memoryForTask(ctx) : null; // on a GPU worker its memory counts too
        if (gpu != null) {
            refusal = WorkerMemory.gpuRefusal(parameters, settings.exact(), ranks, 1, gpu.index(), gpu.totalBytes());
        }
        TcpRing.Listener listener = TcpRing.listen(host, TcpRing.Settings.DEFAULT.withTimeouts(Duration.ofSeconds(timeoutSeconds)));
        List<String> addresses = new ArrayList<>();
        String refused = null;
        try {
            for (String m : rendezvous(ctx, (refusal == null ? "ok " : "refused ") + listener.address() + " " + Objects.toString(refusal, ""))) {
                String[] p = m.split(" ", 3);
                addresses.add(p[1]);
                if (p[0].equals("refused") && refused == null) refused = p[2];
            }
        } catch (RuntimeException e) {
            listener.close();
            throw e;
        }
        if (refused != null) {
            listener.close();
            giveBack(net);
            return List.of(new Result(rank, null, refused)).iterator();
        }
        Collective collective = listener.join(rank, addresses);
        int threads = Math.max(ctx.cpus(), coresPerExecutor / here);
        ForkJoinPool pool = new ForkJoinPool(threads);
        DataParallelWorker worker = kept != null ? kept.worker().rejoin(collective) : null;
        MetricsChannel.Reporter reporter = rank == 0 ? new MetricsChannel.Reporter(metricsAddress, token) : null;
        boolean done = false;
        try {
            DataParallelWorker w = worker != null ? worker : pool.submit(() -> {
                useTaskResources(ctx);
                return start(net, collective);
            }).get();
            worker = w;
            Validator validator = rank == 0 && validation != null ? VALIDATORS.computeIfAbsent(validation, k -> open()) : null;
            TrainingSegment.Outcome outcome = pool.submit(() -> {
                useTaskResources(ctx);
                Nd4j.getEnvironment().setMaxThreads(threads); // libnd4j's OpenMP threads follow the worker's cores too
                return TrainingSegment.run(w, data, settings, plan, validator, reporter, out);
            }).get();
            done = true;
            if (!outcome.diverged() && plan.endStep() < plan.stopStep()) {
                KEPT.put(keptKey, new Kept(w, runId + "@" + plan.endStep(), ranks, settings));
            } else {
                w.close();
                giveBack(net);
            }
            return List.of(new Result(rank, outcome, null)).iterator();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof Exception x) throw x;
            throw e;
        } finally {
            collective.close();
            pool.shutdownNow();
            if (reporter != null) reporter.close();
            // a worker that failed may still be computing on its thread: its network is dropped, never reused
            if (!done && worker != null) worker.abandon();
        }
    }

    private DataParallelWorker start(Network net, Collective collective) throws Exception {
        DataParallelWorker w = new DataParallelWorker(net, task, settings, collective);
        if (resumeFrom == null) {
            w.startFromRankZero();
        } else {
            try (Storage in = Storage.forUrl(resumeFrom, hadoop.value())) {
                w.resume(in, resumeFrom);
            }
        }
        return w;
    }

    private Validator open() {
        try {
            return validation.open();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("cannot open the validation data: " + e.getMessage(), e);
        }
    }

    private void giveBack(Network net) {
        NETWORKS.computeIfAbsent(task.networkKey(), k -> new ConcurrentLinkedQueue<>()).add(net);
    }

    private Network fresh() {
        Network n = task.buildNetwork();
        task.initialise(n);
        return n;
    }

    private Network borrow() {
        Network n = NETWORKS.computeIfAbsent(task.networkKey(), k -> new ConcurrentLinkedQueue<>()).poll();
        return n != null ? n : task.buildNetwork();
    }

    /** The one place a task takes up what Spark gave it: its GPU (spark.task.resource.gpu.amount), on this thread. */
    static void useTaskResources(TaskContext ctx) {
        QuietSameDiff.install();
        GpuCheck.forTask(ctx);
    }

    /**
     * Every task's message, in rank order, through {@code BarrierTaskContext.allGather}; a task that does not arrive
     * within the time-out fails this one with a message saying so (Spark's own barrier time-out is a year).
     */
    private List<String> rendezvous(BarrierTaskContext ctx, String message) throws Exception {
        ExecutorService waiter = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "avatar-train-rendezvous");
            t.setDaemon(true);
            return t;
        });
        try {
            Future<String[]> f = waiter.submit(() -> ctx.allGather(message));
            return List.of(f.get(timeoutSeconds, TimeUnit.SECONDS));
        } catch (TimeoutException e) {
            throw new IllegalStateException("train: not every one of the " + ctx.getTaskInfos().length + " workers reached the start of the"
                    + " training segment at step " + plan.startStep() + " within " + timeoutSeconds + " s (" + SparkTrainer.TIMEOUT
                    + "); a worker is stuck loading its data or its executor is lost. Look at that executor's log.");
        } finally {
            waiter.shutdownNow();
        }
    }
}
