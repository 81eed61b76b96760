package dev.avatartrain.train;

import java.io.IOException;
import java.io.Serializable;
import java.util.Map;

import dev.avatartrain.models.nn.Network;

/**
 * Evaluates a network holding the current weights on held-out data: name → value. Runs on a worker (rank 0), so the
 * driver never builds a network; the job hands the engine a {@link Plan}, which the worker opens once per run.
 */
public interface Validator {
    Map<String, Object> validate(Network net, long step) throws IOException;

    /** What a worker needs to make the validator (held-out item names, where the data is): serialisable, no data. */
    interface Plan extends Serializable {
        Validator open() throws IOException;
    }
}
