package dev.avatartrain.train;

import java.io.Serializable;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.nd4j.linalg.api.ndarray.INDArray;

import dev.avatartrain.models.nn.Network;

/**
 * What the engine trains: a network, its loss output, and where a shard's batches come from. Implementations are
 * serialised into Spark tasks, so they hold configuration only; data is loaded inside the task.
 */
public interface TrainingTask extends Serializable {
    /** Identifies the architecture: workers reuse a network built for the same key. */
    String networkKey();

    /** A new network of the task's architecture (the engine sets its weights). */
    Network buildNetwork();

    /** Sets the starting weights of a fresh run on the driver's network (e.g. released weights to fine-tune); default: keep. */
    default void initialise(Network net) {
    }

    /** Extra facts recorded in each checkpoint's training_state.json ({@code info}); default: none. */
    default Map<String, Object> checkpointInfo() {
        return Map.of();
    }

    /** The scalar loss output of the graph. */
    String lossName();

    /** Samples in one micro-batch. */
    int batchSize();

    /** The batches of one shard (a list of item names, e.g. clips); data is read lazily and may be cached per JVM. */
    BatchSource open(List<String> shard);

    /** Draws micro-batches as placeholder maps; the draw depends only on the generator passed in. */
    interface BatchSource {
        Map<String, INDArray> next(SplittableRandom rng);
    }
}
