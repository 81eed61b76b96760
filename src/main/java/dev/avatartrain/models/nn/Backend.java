package dev.avatartrain.models.nn;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Where a network's one definition runs, chosen once when the network is built: the hand-written kernels on a
 * {@link dev.avatartrain.models.kernels.Tape} (float32 on the CPU backend: training and inference), or a SameDiff graph
 * (float64 gradient checks, the CUDA backend).
 */
public enum Backend {
    TAPE, GRAPH;

    /** The tape for float32 on the CPU backend, the graph otherwise (float64, or arrays that live on a GPU). */
    public static Backend defaultFor(DataType dtype) {
        return dtype == DataType.FLOAT && Nd4j.getEnvironment().isCPU() ? TAPE : GRAPH;
    }

    void check(DataType dtype) {
        if (dtype != DataType.FLOAT && dtype != DataType.DOUBLE) {
            throw new IllegalArgumentException("networks compute in FLOAT or DOUBLE, not " + dtype);
        }
        if (this == TAPE && (dtype != DataType.FLOAT || !Nd4j.getEnvironment().isCPU())) {
            throw new IllegalArgumentException("the tape kernels compute in float32 on the CPU backend; use "
                    + GRAPH + " for " + dtype + (Nd4j.getEnvironment().isCPU() ? "" : " on this backend"));
        }
    }
}
