package dev.avatartrain.tensors;

import org.bytedeco.javacpp.Pointer;

/**
 * Keeps the off-heap memory of ND4J arrays bounded: between training steps (the engine's {@code StepRunner}) and
 * during a hand-written backward pass ({@code models.kernels.Tape}).
 *
 * <p>Why this exists: a SameDiff forward+backward call keeps its activations referenced until it returns, and the
 * arrays it drops are only freed when the JVM collects their Java wrappers. A training step allocates little Java
 * heap, so without help no collection runs for many steps while every step leaves gigabytes of native garbage
 * behind: the tiny UNet at B=12, 32×32 grew past 24 GB and was killed after two steps (docs/benchmarks.md, "UNet
 * training step"). Collecting once the process is above a share of the machine's memory frees that garbage
 * (≈ 0.1 s per collection) before the next step allocates its own. The hand-written kernels keep only what their
 * backward passes need, but what a backward pass has consumed is garbage of the same kind; the tape checks every few
 * operations so that a large model's step does not hold it all at its peak (docs/benchmarks.md).
 */
public final class NativeMemory {
    /** Share of physical memory above which a step starts with a collection. */
    static final double COLLECT_ABOVE = 0.35;

    private NativeMemory() {}

    /** Runs a collection if this process's resident memory is above {@link #COLLECT_ABOVE} of the machine's. */
    public static void releaseGarbageIfHigh() {
        long total = Pointer.totalPhysicalBytes();
        if (total > 0 && Pointer.physicalBytes() > COLLECT_ABOVE * total) {
            System.gc();
        }
    }
}
