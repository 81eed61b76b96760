package dev.avatartrain.train;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.spark.api.java.JavaSparkContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.avatartrain.config.AppConfig;
import dev.avatartrain.config.OptimizerConfig;
import dev.avatartrain.config.TrainConfig;
import dev.avatartrain.models.nn.Network;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.train.dashboard.Dashboard;
import dev.avatartrain.train.optim.LrSchedule;

/**
 * The driver's loop, shared by every network: rounds of {@link ParameterAveraging} until {@code max_train_steps}
 * optimizer steps, with exact resume from a checkpoint. What happens around each round — progress line, metrics,
 * TensorBoard events, validation every {@code validation_steps}, checkpoints every {@code checkpointing_steps} and at
 * the end, the dashboard — is a {@link TrainingListener}. A NaN or infinite loss stops training, naming the step and
 * the last good checkpoint; the listeners are closed either way.
 */
public final class Trainer {
    private static final Logger LOG = LoggerFactory.getLogger(Trainer.class);

    /** Evaluates the driver's network (holding the current averaged weights) on held-out data: name → value. */
    public interface Validator {
        Map<String, Object> validate(Network net, long step) throws IOException;
    }

    /** How a run ended. */
    public record Result(long step, String lastCheckpoint, List<Map<String, Object>> validations) {}

    private final JavaSparkContext sc;
    private final AppConfig config;
    private final TrainingTask task;
    private final List<List<String>> shards;
    private final Storage out;
    private final Checkpoints.Run claimed;

    /** {@code run}: the run the job claimed ({@link Checkpoints#claim}) before writing anything; null: claimed here. */
    public Trainer(JavaSparkContext sc, AppConfig config, TrainingTask task, List<List<String>> shards, Storage outputDir,
                   Checkpoints.Run run) {
        this.sc = sc;
        this.config = config;
        this.task = task;
        this.shards = shards;
        this.out = outputDir;
        this.claimed = run;
    }

    public Trainer(JavaSparkContext sc, AppConfig config, TrainingTask task, List<List<String>> shards, Storage outputDir) {
        this(sc, config, task, shards, outputDir, null);
    }

    /**
     * Trains until {@code max_train_steps}, or until {@code untilStep} (> 0) when a run is split into sessions:
     * a checkpoint is written there and a later run resumes from it on the same schedule.
     */
    public Result run(Validator validator, long untilStep) throws IOException {
        TrainConfig t = config.train();
        OptimizerConfig o = config.optimizer();
        int workers = shards.size();
        double baseLr = LrSchedule.scaledLr(o, t.trainBatchSize(), t.gradientAccumulationSteps(), workers);
        LrSchedule schedule = LrSchedule.of(o, t.maxTrainSteps(), baseLr);
        ParameterAveraging.Settings settings = new ParameterAveraging.Settings(t.gradientAccumulationSteps(), o.maxGradNorm(), schedule,
                o.adamBeta1(), o.adamBeta2(), o.adamEpsilon(), o.adamWeightDecay(), t.seed());
        Checkpoints.Run run = claimed != null ? claimed : Checkpoints.claim(out, config.model().resumeFromCheckpoint(), false, List.of(),
                Checkpoints.Hints.TRAIN, sc.hadoopConfiguration());
        Checkpoints checkpoints = new Checkpoints(out, t.checkpointsTotalLimit(), run.id());
        // the driver's network gives the layout and the starting weights, then is released: between validations the
        // driver holds only the state (docs/engine.md, "Memory")
        Network driverNet = task.buildNetwork();

        ModelState state; // the driver's one copy of parameters and moments, in chunks
        long step = 0, round = 0;
        String resume = run.resumeFrom();
        if (resume != null) {
            // names and shapes are checked against this architecture's layout
            FlatLayout layout = FlatLayout.of(driverNet.parameters(), ModelState.DEFAULT_CHUNK_FLOATS);
            driverNet.release(); // before the state is read: the driver never holds a network and the whole state
            Checkpoints.Loaded c = Checkpoints.load(resume, sc.hadoopConfiguration(), layout);
            if (!c.state().configHash().equals(trainingHash(config))) {
                LOG.warn("train: note: {} was written with a different configuration (hash {}); continuing with the current one",
                        resume, c.state().configHash());
            }
            state = c.model();
            step = c.state().step();
            round = c.state().round();
            LOG.info("train: resumed from {} at step {} (round {})", resume, step, round);
        } else {
            task.initialise(driverNet);
            state = ModelState.of(driverNet, ModelState.DEFAULT_CHUNK_FLOATS); // parameters only; moments on first use
            driverNet.release();
        }
        boolean exact = t.averagingFrequency() == 1;
        WorkerMemory.check(sc, state.layout(), exact, t.gradientAccumulationSteps(), workers);

        long stop = untilStep > 0 ? Math.min(untilStep, t.maxTrainSteps()) : t.maxTrainSteps();
        long samplesPerStep = (long) t.trainBatchSize() * t.gradientAccumulationSteps() * workers;
        try (TrainingListeners listeners = new TrainingListeners()) {
            Sinks sinks = sinks(listeners, validator, checkpoints, resume, step);
            listeners.started(new TrainingListener.Start(step, stop, t.maxTrainSteps(), workers, samplesPerStep, baseLr, state));
            while (step < stop) {
                int k = (int) Math.min(t.averagingFrequency(), stop - step);
                long roundStart = System.nanoTime();
                ParameterAveraging.Round r = ParameterAveraging.round(sc, task, shards, settings, state, round, k, exact);
                double secs = (System.nanoTime() - roundStart) / 1e9;
                long prev = step;
                step += k;
                round++;
                if (!Double.isFinite(r.loss()) || !state.paramsFinite()) {
                    throw diverged(r.loss(), step, round, checkpoints.newestFinite());
                }
                listeners.round(new TrainingListener.Round(step, prev, round, step >= stop, r.loss(), r.lr(), r.gradNorm(), r.samples(), secs,
                        r.computeSeconds(), state));
            }
            listeners.finished(step);
            return new Result(step, sinks.checkpoints().last(), sinks.validation() == null ? List.of() : sinks.validation().results());
        }
    }

    private record Sinks(ValidationListener validation, CheckpointListener checkpoints) {}

    /**
     * The run's side effects, in the order they see each event: progress line, metrics files, TensorBoard events,
     * validation, checkpoints, dashboard (last, so it shows the rows of the round's validation).
     */
    private Sinks sinks(TrainingListeners listeners, Validator validator, Checkpoints checkpoints, String resumedFrom,
                        long step) throws IOException {
        TrainConfig t = config.train();
        listeners.add(new ProgressListener(config));
        Metrics metrics = listeners.add(new Metrics(out, step));
        listeners.add(new TensorBoardListener(out, config));
        ValidationListener validation = validator == null || t.validationSteps() <= 0 ? null
                : listeners.add(new ValidationListener(validator, task, t.validationSteps(), listeners));
        CheckpointListener ckpt = listeners.add(new CheckpointListener(checkpoints, config, task, resumedFrom, listeners));
        listeners.add(Dashboard.listener(t, sc.getConf().get("spark.driver.host", "localhost"), out, task.networkKey(), metrics::rows));
        return new Sinks(validation, ckpt);
    }

    private static TrainingDivergedException diverged(double loss, long step, long round, String lastCheckpoint) {
        return new TrainingDivergedException("train: loss became " + loss + " at step " + step + " (round " + round
                + "); stopped. Newest checkpoint with finite weights (read back and checked): "
                + (lastCheckpoint == null ? "none" : lastCheckpoint) + ". Non-finite audio features or latents in the"
                + " data cause this as well as too high a learning rate: run encode again (it skips such frames and lists"
                + " them), or lower optimizer.learning_rate or max_grad_norm, and resume from that checkpoint.");
    }

    /** The configuration that determines the training trajectory (what a resumed run should share). */
    static String trainingHash(AppConfig config) {
        return config.trainingHash();
    }

    static boolean crossed(long before, long after, long every) {
        return every > 0 && after / every > before / every;
    }

    static String duration(double seconds) {
        long s = Math.round(seconds);
        return String.format("%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
    }

    /** Training stopped on a NaN or infinite loss. */
    public static final class TrainingDivergedException extends RuntimeException {
        public TrainingDivergedException(String message) {
            super(message);
        }
    }
}
