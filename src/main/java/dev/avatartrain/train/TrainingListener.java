package dev.avatartrain.train;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A side effect of the driver's loop ({@code train.spark.SparkTrainer}): the progress line, metrics files, TensorBoard events, the
 * dashboard, validation and checkpoints each react to these events. Called on the driver, in the order the
 * listeners were given; {@link #close()} is called for every listener also when training fails.
 */
public interface TrainingListener extends AutoCloseable {
    /** The run's shape, once before the first step. */
    record Start(long startStep, long stopStep, long maxSteps, int workers, long samplesPerStep, double baseLr) {}

    /**
     * One optimizer step the workers took, as they reported it: the optimizer has reached {@code step} (from
     * {@code previousStep}); mean loss, learning rate and gradient norm over the workers; {@code seconds} the step's
     * wall time on rank 0 and {@code computeSeconds} the part of it rank 0 computed (forward, backward, optimizer),
     * the rest being waits for the network.
     */
    record Round(long step, long previousStep, long round, boolean last, double loss, double lr, double gradNorm, long samples,
                 double seconds, double computeSeconds) {
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
