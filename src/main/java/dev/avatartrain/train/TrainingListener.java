package dev.avatartrain.train;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A side effect of the driver's loop ({@link Trainer}): the progress line, metrics files, TensorBoard events, the
 * dashboard, validation and checkpoints each react to these events. Called on the driver, in the order the
 * listeners were given; {@link #close()} is called for every listener also when training fails.
 */
public interface TrainingListener extends AutoCloseable {
    /** The run's shape, once before the first round; {@code state} holds the weights at {@code startStep}. */
    record Start(long startStep, long stopStep, long maxSteps, int workers, long samplesPerStep, double baseLr, ModelState state) {}

    /**
     * One finished averaging round: the optimizer has reached {@code step} (from {@code previousStep}); {@code state} is
     * the driver's one copy of the averaged parameters and moments (read it, never keep it past the call).
     */
    record Round(long step, long previousStep, long round, boolean last, double loss, double lr, double gradNorm, long samples,
                 double seconds, double computeSeconds, ModelState state) {
        public double samplesPerSecond() {
            return samples / seconds;
        }

        /** The metrics row of this round. */
        public Map<String, Object> row() {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("step", step);
            row.put("round", round);
            row.put("train_loss", loss);
            row.put("lr", lr);
            row.put("grad_norm", gradNorm);
            row.put("samples_per_s", samplesPerSecond());
            row.put("round_s", seconds);
            row.put("compute_s", computeSeconds);
            return row;
        }
    }

    default void started(Start s) throws IOException {}

    default void round(Round r) throws IOException {}

    /** Validation results at {@code step} (name → value; includes {@code step}). */
    default void validated(long step, Map<String, Object> values) throws IOException {}

    /** A complete checkpoint was written. */
    default void checkpointed(long step, String location) throws IOException {}

    /** Training reached its last step (not called when it fails). */
    default void finished(long step) throws IOException {}

    /** Releases what the listener holds; called once, in reverse order, also after a failure. Must not throw. */
    @Override
    default void close() {}
}
