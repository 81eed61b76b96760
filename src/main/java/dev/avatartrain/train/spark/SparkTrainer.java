package dev.avatartrain.train.spark;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.spark.SparkException;
import org.apache.spark.api.java.JavaFutureAction;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.util.SerializableConfiguration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.avatartrain.config.AppConfig;
import dev.avatartrain.config.OptimizerConfig;
import dev.avatartrain.config.TrainConfig;
import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.train.CheckpointPieces;
import dev.avatartrain.train.Checkpoints;
import dev.avatartrain.train.GradientBuckets;
import dev.avatartrain.train.Metrics;
import dev.avatartrain.train.ProgressListener;
import dev.avatartrain.train.TensorBoardListener;
import dev.avatartrain.train.TrainingListener;
import dev.avatartrain.train.TrainingListeners;
import dev.avatartrain.train.WandbListener;
import dev.avatartrain.train.TrainingSegment;
import dev.avatartrain.train.TrainingSettings;
import dev.avatartrain.train.TrainingTask;
import dev.avatartrain.train.Validator;
import dev.avatartrain.train.dashboard.Dashboard;
import dev.avatartrain.train.optim.LrSchedule;

/**
 * The driver of data-parallel training on Spark (DESIGN.md §3, docs/engine.md). It schedules: each training segment
 * (from a checkpoint to the next, or to the run's last step) is one barrier stage with one long task per worker
 * ({@link SegmentTask}), which trains there and exchanges gradients with the other workers peer to peer. Meanwhile
 * the driver receives each step's metrics and the validation results from rank 0 ({@link MetricsChannel}) and hands
 * them to the listeners (progress line, metrics files, TensorBoard, dashboard); when the stage ends it checks the
 * checkpoint pieces the workers wrote, writes the state file that completes the checkpoint, and prunes. The driver
 * builds no network and holds no model state. A failed task fails the stage; Spark retries the whole stage
 * ({@code spark.stage.maxConsecutiveAttempts}), whose workers start again from the segment's starting checkpoint.
 */
public final class SparkTrainer {
    private static final Logger LOG = LoggerFactory.getLogger(SparkTrainer.class);
    /** How long a worker waits for the others (at the start of a segment, inside an exchange), in seconds. */
    public static final String TIMEOUT = "spark.avatartrain.workerTimeout";
    static final long DEFAULT_TIMEOUT_S = 600;

    /** How a run ended: the step reached, its last checkpoint, the validation results in order. */
    public record Result(long step, String lastCheckpoint, List<Map<String, Object>> validations) {}

    private final JavaSparkContext sc;
    private final AppConfig config;
    private final TrainingTask task;
    private final List<List<String>> shards;
    private final Storage out;
    private final Checkpoints.Run claimed;

    /** {@code run}: the run the job claimed ({@link Checkpoints#claim}) before writing anything; null: claimed here. */
    public SparkTrainer(JavaSparkContext sc, AppConfig config, TrainingTask task, List<List<String>> shards, Storage outputDir,
                        Checkpoints.Run run) {
        this.sc = sc;
        this.config = config;
        this.task = task;
        this.shards = shards;
        this.out = outputDir;
        this.claimed = run;
    }

    /** The settings the workers run with, from the configuration and the number of workers. */
    static TrainingSettings settings(AppConfig config, int workers) {
        TrainConfig t = config.train();
        OptimizerConfig o = config.optimizer();
        double baseLr = LrSchedule.scaledLr(o, t.trainBatchSize(), t.gradientAccumulationSteps(), workers);
        return new TrainingSettings(t.gradientAccumulationSteps(), o.maxGradNorm(), LrSchedule.of(o, t.maxTrainSteps(), baseLr),
                o.adamBeta1(), o.adamBeta2(), o.adamEpsilon(), o.adamWeightDecay(), t.seed(), t.averagingFrequency(),
                GradientBuckets.DEFAULT_BUCKET_FLOATS);
    }

    /**
     * Trains until {@code max_train_steps}, or until {@code untilStep} (&gt; 0) when a run is split into sessions: a
     * checkpoint is written there and a later run resumes from it on the same schedule. {@code validation}: null for none.
     */
    public Result run(Validator.Plan validation, long untilStep) throws IOException {
        TrainConfig t = config.train();
        int workers = shards.size();
        TrainingSettings settings = settings(config, workers);
        double baseLr = LrSchedule.scaledLr(config.optimizer(), t.trainBatchSize(), t.gradientAccumulationSteps(), workers);
        Checkpoints.Run run = claimed != null ? claimed : Checkpoints.claim(out, config.model().resumeFromCheckpoint(), false, List.of(),
                Checkpoints.Hints.TRAIN, sc.hadoopConfiguration());
        Checkpoints checkpoints = new Checkpoints(out, t.checkpointsTotalLimit(), run.id());
        long step = 0, round = 0;
        String from = run.resumeFrom();
        if (from != null) {
            Checkpoints.State s = Checkpoints.readState(from, sc.hadoopConfiguration());
            if (!s.configHash().equals(config.trainingHash())) {
                LOG.warn("train: note: {} was written with a different configuration (hash {}); continuing with the current one",
                        from, s.configHash());
            }
            step = s.step();
            round = s.round();
            LOG.info("train: resumed from {} at step {} (round {})", from, step, round);
        }
        long stop = untilStep > 0 ? Math.min(untilStep, t.maxTrainSteps()) : t.maxTrainSteps();
        long samplesPerStep = (long) t.trainBatchSize() * t.gradientAccumulationSteps() * workers;
        long timeout = sc.getConf().getTimeAsSeconds(TIMEOUT, DEFAULT_TIMEOUT_S + "s");
        String driverHost = sc.getConf().get("spark.driver.host", "localhost");
        SerializableConfiguration hadoop = new SerializableConfiguration(sc.hadoopConfiguration());
        String memorySetting = Workers.local(sc.getConf()) ? "local mode: -Xmx / spark.driver.memory = " + sc.getConf().get("spark.driver.memory", "(not set)")
                : "spark.executor.memory = " + sc.getConf().get("spark.executor.memory", "(not set: 1g)");
        List<Map<String, Object>> validations = new ArrayList<>();
        String last = from;
        try (TrainingListeners listeners = new TrainingListeners(); MetricsChannel channel = MetricsChannel.open(driverHost)) {
            listeners.add(new ProgressListener(config));
            Metrics metrics = listeners.add(new Metrics(out, step));
            listeners.add(new TensorBoardListener(out, config));
            WandbListener wandb = WandbListener.start(config, out, run.id());
            if (wandb != null) listeners.add(wandb);
            listeners.add(Dashboard.listener(t, driverHost, out, task.networkKey(), metrics::rows));
            listeners.started(new TrainingListener.Start(step, stop, t.maxTrainSteps(), workers, samplesPerStep, baseLr));
            boolean validateFirst = from == null;
            while (step < stop) {
                long every = t.checkpointingSteps();
                long end = every > 0 ? Math.min(stop, (step / every + 1) * every) : stop;
                String dir = Checkpoints.DIR + "/" + Checkpoints.name(end);
                out.delete(dir + "/" + Checkpoints.STATE); // an older checkpoint of that step is replaced, never half-mixed
                TrainingSegment.Plan plan = new TrainingSegment.Plan(step, end, round, stop, t.maxTrainSteps(), t.validationSteps(),
                        validateFirst && validation != null, dir);
                SegmentTask body = new SegmentTask(task, shards, settings, plan, from, run.id(), out, validation, channel.address(),
                        channel.token(), timeout, Workers.coresPerExecutor(sc.getConf()), hadoop, memorySetting);
                List<SegmentTask.Result> results = runStage(body, workers, channel, listeners, validations, step);
                for (SegmentTask.Result r : results) if (r.refusal() != null) throw new BadInputException(r.refusal());
                TrainingSegment.Outcome o = results.stream().filter(r -> r.rank() == 0).findFirst().orElseThrow().outcome();
                if (o.diverged()) throw diverged(o.loss(), o.step(), o.round(), checkpoints.newestFinite());
                for (Map<String, Object> v : validations) {
                    if (v.get("val_loss") instanceof Number n && !Double.isFinite(n.doubleValue())) {
                        throw new TrainingDivergedException("train: the validation loss is " + n + " at step " + v.get("step")
                                + "; stopped. The validation clips hold NaN or infinite audio features or latents (run encode"
                                + " again: it skips such frames and lists them), or the weights diverged.");
                    }
                }
                String problem = CheckpointPieces.verify(out, dir, workers);
                if (problem != null) throw new IllegalStateException("train: the checkpoint at step " + end + " is incomplete: " + problem);
                Map<String, Object> info = new java.util.LinkedHashMap<>(task.checkpointInfo()); // e.g. the UNet's audio encoding
                last = checkpoints.commit(new Checkpoints.State(end, o.round(), t.seed(), config.trainingHash(), task.networkKey(), info));
                listeners.checkpointed(end, last);
                from = last;
                step = end;
                round = o.round();
                validateFirst = false;
            }
            listeners.finished(step);
        }
        return new Result(step, last, validations);
    }

    /** Runs one segment's barrier stage while handing rank 0's messages to the listeners; returns the tasks' results. */
    private List<SegmentTask.Result> runStage(SegmentTask body, int workers, MetricsChannel channel, TrainingListeners listeners,
                                              List<Map<String, Object>> validations, long startStep) throws IOException {
        List<Integer> ranks = new ArrayList<>();
        for (int i = 0; i < workers; i++) ranks.add(i);
        sc.setJobDescription("avatar-train: steps " + body.plan().startStep() + " to " + body.plan().endStep() + " on " + workers
                + " workers");
        scala.reflect.ClassTag<SegmentTask.Result> tag = scala.reflect.ClassTag$.MODULE$.apply(SegmentTask.Result.class);
        // the barrier stage feeds a shuffle, so it is a shuffle map stage, which Spark retries as a whole when a task fails
        // (a failed barrier result stage is not retried); its results are a few bytes per worker
        JavaFutureAction<List<SegmentTask.Result>> job = org.apache.spark.api.java.JavaRDD.fromRDD(
                sc.parallelize(ranks, workers).rdd().barrier().mapPartitions(new SegmentTask.Function(body), false, tag), tag)
                .repartition(1).collectAsync();
        long reported = startStep;
        long validated = body.plan().validateFirst() ? -1 : startStep;
        try {
            while (true) {
                boolean finished = job.isDone();
                MetricsChannel.Message m;
                while ((m = channel.poll(finished ? 0 : 100)) != null) {
                    if (m.type().equals("step")) {
                        TrainingListener.Round r = MetricsChannel.round(m.body());
                        if (r.step() <= reported) continue; // a retried stage reports its steps again
                        reported = r.step();
                        listeners.round(r);
                    } else if (m.type().equals("validated")) {
                        long s = ((Number) m.body().get("step")).longValue();
                        if (s <= validated) continue;
                        validated = s;
                        @SuppressWarnings("unchecked") Map<String, Object> values = (Map<String, Object>) m.body().get("values");
                        validations.add(values);
                        listeners.validated(s, values);
                    }
                }
                if (finished) break;
            }
            return job.get();
        } catch (InterruptedException e) {
            job.cancel(true);
            Thread.currentThread().interrupt();
            throw new IllegalStateException("train: interrupted", e);
        } catch (java.util.concurrent.ExecutionException e) {
            throw unwrap(e.getCause());
        }
    }

    /** A user's error raised in a worker (a bad item, a setting) as itself; other failures as they are. */
    private static RuntimeException unwrap(Throwable failure) {
        for (Throwable c = failure; c != null; c = c.getCause()) {
            if (c instanceof BadInputException b) return b;
        }
        if (failure instanceof SparkException s && s.getMessage() != null) {
            String msg = s.getMessage();
            int at = msg.indexOf("train: ");
            if (at >= 0) return new IllegalStateException(msg.substring(at).split("\n")[0], s);
        }
        return failure instanceof RuntimeException r ? r : new IllegalStateException(failure);
    }

    private static TrainingDivergedException diverged(double loss, long step, long round, String lastCheckpoint) {
        return new TrainingDivergedException("train: loss became " + loss + " at step " + step + " (round " + round
                + "); stopped. Newest checkpoint with finite weights (read back and checked): "
                + (lastCheckpoint == null ? "none" : lastCheckpoint) + ". Non-finite audio features or latents in the"
                + " data cause this as well as too high a learning rate: run encode again (it skips such frames and lists"
                + " them), or lower optimizer.learning_rate or max_grad_norm, and resume from that checkpoint.");
    }

    /** Training stopped on a NaN or infinite loss. */
    public static final class TrainingDivergedException extends RuntimeException {
        public TrainingDivergedException(String message) {
            super(message);
        }
    }
}
