package dev.avatartrain.train;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.spark.api.java.JavaSparkContext;
import org.nd4j.linalg.api.ndarray.INDArray;

import dev.avatartrain.config.AppConfig;
import dev.avatartrain.config.OptimizerConfig;
import dev.avatartrain.config.TrainConfig;
import dev.avatartrain.models.nn.Network;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.train.optim.AdamW;
import dev.avatartrain.train.optim.LrSchedule;

/**
 * The driver's loop, shared by every network: rounds of {@link ParameterAveraging} until {@code max_train_steps}
 * optimizer steps, a progress line and a metrics row per round, validation every {@code validation_steps},
 * checkpoints every {@code checkpointing_steps} and at the end, exact resume from a checkpoint. A NaN or infinite
 * loss stops training, naming the step and the last good checkpoint.
 */
public final class Trainer {
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
        Network driverNet = task.buildNetwork();

        ModelState state; // the driver's one copy of parameters and moments, in chunks
        long step = 0, round = 0;
        String lastCheckpoint = null;
        String resume = run.resumeFrom();
        if (resume != null) {
            // names and shapes are checked against this architecture's layout
            Checkpoints.Loaded c = Checkpoints.load(resume, sc.hadoopConfiguration(), FlatLayout.of(driverNet.parameters(), ModelState.DEFAULT_CHUNK_FLOATS));
            if (!c.state().configHash().equals(trainingHash(config))) {
                System.out.println("train: note: " + resume + " was written with a different configuration (hash "
                        + c.state().configHash() + "); continuing with the current one");
            }
            state = c.model();
            step = c.state().step();
            round = c.state().round();
            lastCheckpoint = resume;
            System.out.println("train: resumed from " + resume + " at step " + step + " (round " + round + ")");
        } else {
            task.initialise(driverNet);
            state = ModelState.of(driverNet, ModelState.DEFAULT_CHUNK_FLOATS);
        }
        boolean exact = t.averagingFrequency() == 1;
        WorkerMemory.check(sc, state.layout(), exact, t.gradientAccumulationSteps(), workers);
        Metrics metrics = new Metrics(out, step);
        var dashboard = dev.avatartrain.train.dashboard.Dashboard.start(t.wandbEnabled() ? t.dashboardPort() : 0, out, task.networkKey(), t.maxTrainSteps());
        if (dashboard != null) System.out.println("train: live dashboard at " + dashboard.url());
        long samplesPerStep = (long) t.trainBatchSize() * t.gradientAccumulationSteps() * workers;
        System.out.printf("train: %d workers × batch %d × accumulation %d = %d samples per optimizer step; %d steps, averaging every %d;"
                        + " learning rate %.3g (%s, warm-up %d)%n", workers, t.trainBatchSize(), t.gradientAccumulationSteps(),
                samplesPerStep, t.maxTrainSteps(), t.averagingFrequency(), baseLr, o.lrScheduler(), o.lrWarmupSteps());

        List<Map<String, Object>> validations = new ArrayList<>();
        long started = System.nanoTime();
        long startStep = step;
        if (step == 0 && t.validationSteps() > 0) validations.add(validate(validator, driverNet, state, step, metrics));
        if (dashboard != null) dashboard.update(metrics.rows());
        long stop = untilStep > 0 ? Math.min(untilStep, t.maxTrainSteps()) : t.maxTrainSteps();
        while (step < stop) {
            int k = (int) Math.min(t.averagingFrequency(), stop - step);
            long roundStart = System.nanoTime();
            ParameterAveraging.Round r = ParameterAveraging.round(sc, task, shards, settings, state, round, k, exact);
            double secs = (System.nanoTime() - roundStart) / 1e9;
            long prev = step;
            step += k;
            round++;
            if (!Double.isFinite(r.loss()) || !state.paramsFinite()) {
                throw new TrainingDivergedException("train: loss became " + r.loss() + " at step " + step + " (round " + round
                        + "); stopped. Last good checkpoint: " + (lastCheckpoint == null ? "none yet" : lastCheckpoint)
                        + ". Lower optimizer.learning_rate or max_grad_norm and resume from it.");
            }
            double elapsed = (System.nanoTime() - started) / 1e9;
            double eta = (step - startStep) == 0 ? 0 : elapsed / (step - startStep) * (t.maxTrainSteps() - step);
            System.out.printf("step %d/%d  loss %.5f  lr %.3g  grad-norm %.3g  %.1f samples/s  ETA %s%n", step, t.maxTrainSteps(),
                    r.loss(), r.lr(), r.gradNorm(), r.samples() / secs, duration(eta));
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("step", step);
            row.put("round", round);
            row.put("train_loss", r.loss());
            row.put("lr", r.lr());
            row.put("grad_norm", r.gradNorm());
            row.put("samples_per_s", r.samples() / secs);
            row.put("round_s", secs);
            row.put("compute_s", r.computeSeconds());
            metrics.add(row);
            boolean last = step >= stop;
            if (t.validationSteps() > 0 && (crossed(prev, step, t.validationSteps()) || last)) {
                validations.add(validate(validator, driverNet, state, step, metrics));
            }
            if (crossed(prev, step, t.checkpointingSteps()) || last) {
                Map<String, Object> info = new LinkedHashMap<>(task.checkpointInfo());
                info.put("train_loss", r.loss());
                lastCheckpoint = checkpoints.write(new Checkpoints.State(step, round, t.seed(), trainingHash(config), task.networkKey(),
                        info), state);
                System.out.println("train: checkpoint " + lastCheckpoint);
            }
            if (dashboard != null) dashboard.update(metrics.rows());
        }
        if (dashboard != null) dashboard.close();
        return new Result(step, lastCheckpoint, validations);
    }

    private Map<String, Object> validate(Validator validator, Network net, ModelState state, long step, Metrics metrics) throws IOException {
        if (validator == null) return Map.of();
        state.copyInto(net);
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("step", step);
        v.putAll(validator.validate(net, step));
        StringBuilder line = new StringBuilder("validation at step " + step + ":");
        v.forEach((k, x) -> {
            if (!k.equals("step")) line.append("  ").append(k).append(' ').append(x instanceof Double d ? String.format("%.5f", d) : x);
        });
        System.out.println(line);
        metrics.add(v);
        return v;
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
