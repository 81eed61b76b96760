package dev.avatartrain.train;

import java.io.IOException;
import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.avatartrain.storage.Storage;

/**
 * A worker's steps from one checkpoint to the next (a training segment), Spark-free: steps with the
 * {@link DataParallelWorker}, validation on rank 0 at step 0 of a fresh run, every {@code validationSteps} and at the
 * run's last step, each step's metrics reported (rank 0), and the worker's pieces of the checkpoint written at the end.
 * A non-finite loss stops the segment without a checkpoint.
 */
public final class TrainingSegment {
    private TrainingSegment() {}

    /**
     * Where a segment starts and ends: steps {@code [startStep, endStep)} to take, the averaging rounds done before it,
     * the run's last step ({@code stopStep}) and {@code maxSteps}, validation every {@code validationSteps} (0: never),
     * whether to validate before the first step, and the folder (relative to the output) of the checkpoint to write at
     * the end.
     */
    public record Plan(long startStep, long endStep, long startRound, long stopStep, long maxSteps, long validationSteps,
                       boolean validateFirst, String checkpointDir) implements Serializable {}

    /** Receives what rank 0 reports: each step's row, and validation results. */
    public interface Reporter {
        void step(TrainingListener.Round round);

        void validated(long step, Map<String, Object> values);
    }

    /** How a segment ended: the step and round reached, the pieces written, and the loss when it was not finite. */
    public record Outcome(long step, long round, List<String> pieces, double loss, boolean diverged) implements Serializable {}

    public static Outcome run(DataParallelWorker worker, TrainingTask.BatchSource data, TrainingSettings settings, Plan plan,
                              Validator validator, Reporter reporter, Storage out) throws IOException {
        boolean reports = worker.rank() == 0;
        long step = plan.startStep(), round = plan.startRound(), lastCheck = step;
        if (plan.validateFirst() && reports && validator != null) validate(worker, validator, reporter, step);
        int h = settings.averagingFrequency();
        while (step < plan.endStep()) {
            boolean average = (step + 1) % h == 0 || step + 1 == plan.endStep();
            DataParallelWorker.StepStats s = worker.step(data, step, average);
            long prev = step;
            step = s.step();
            if (settings.exact() || average) round++;
            if (reports) {
                reporter.step(new TrainingListener.Round(step, prev, round, step >= plan.stopStep(), s.loss(), s.lr(), s.gradNorm(),
                        s.samples(), s.seconds(), s.computeSeconds()));
            }
            if (!Double.isFinite(s.loss())) return new Outcome(step, round, List.of(), s.loss(), true);
            if (!average) continue;
            if (reports && validator != null && (crossed(lastCheck, step, plan.validationSteps()) || step >= plan.stopStep())) {
                validate(worker, validator, reporter, step);
            }
            lastCheck = step;
        }
        List<String> pieces = worker.writeCheckpoint(out, plan.checkpointDir(), step);
        return new Outcome(step, round, pieces, Double.NaN, false);
    }

    private static void validate(DataParallelWorker worker, Validator validator, Reporter reporter, long step) throws IOException {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("step", step);
        v.putAll(validator.validate(worker.network(), step));
        reporter.validated(step, v);
    }

    /** Whether a multiple of {@code every} lies in (before, after]. */
    public static boolean crossed(long before, long after, long every) {
        return every > 0 && after / every > before / every;
    }
}
