package dev.avatartrain.train;

import org.bytedeco.javacpp.Pointer;

/**
 * The check a worker makes before training that its part of the model fits its JVM: in ND4J memory (off the heap,
 * limit {@code org.bytedeco.javacpp.maxbytes}) the parameters, the backward pass's gradients, the flat gradient
 * buckets and, when averaging, both AdamW moments; on the heap (exact mode, ZeRO-1) this worker's 1/N of both
 * moments and the optimizer's scratch. Workers sharing a JVM (local mode) count together. Activations come on top
 * and are not counted: passing is necessary, not sufficient.
 */
public final class WorkerMemory {
    /** Heap kept for everything else in a worker's JVM (Spark, data, validation). */
    static final long HEAP_RESERVE = 256L << 20;

    private WorkerMemory() {}

    /** Bytes a worker needs: {ND4J memory, heap}. */
    static long[] needs(long parameters, boolean exact, int ranks) {
        long copy = 4 * parameters;
        long offHeap = 3 * copy + (exact ? 0 : 2 * copy);
        long heap = exact ? 2 * copy / ranks + 2 * Math.min(copy, 4L * GradientBuckets.DEFAULT_BUCKET_FLOATS) : 0;
        return new long[]{offHeap, heap};
    }

    /**
     * Null when {@code workersHere} workers of {@code parameters} parameters fit this JVM's ND4J limit and heap, else
     * the refusal, naming the bytes and the settings to change.
     */
    public static String refusal(long parameters, boolean exact, int ranks, int workersHere, String memorySetting) {
        long[] need = needs(parameters, exact, ranks);
        long offHeap = need[0] * workersHere, heap = need[1] * workersHere;
        long nativeLimit = Pointer.maxBytes() > 0 ? Pointer.maxBytes() : Long.MAX_VALUE;
        long heapLimit = Runtime.getRuntime().maxMemory();
        if (offHeap <= nativeLimit && heap <= heapLimit - HEAP_RESERVE) return null;
        return String.format("train: the model does not fit a worker: %,d parameters need %s of ND4J memory per worker (parameters,"
                        + " gradients, the exchange's buckets%s) and %s of heap (%s) × %d worker%s in this JVM, but it allows %s of ND4J"
                        + " memory (org.bytedeco.javacpp.maxbytes, default the heap size) and %s of heap less 256 MiB for the rest"
                        + " (%s). Give the workers more memory, use more workers (the moments are split among them) or train a"
                        + " smaller model.", parameters, gib(need[0]), exact ? "" : ", both AdamW moments", gib(need[1]),
                exact ? "1/" + ranks + " of both AdamW moments and the optimizer's scratch" : "none", workersHere,
                workersHere == 1 ? "" : "s", gib(nativeLimit), gib(heapLimit), memorySetting);
    }

    /**
     * Null when {@code workersHere} workers fit the GPU this task was assigned (ND4J's arrays live in its memory on the
     * CUDA backend), else the refusal naming the GPU and its memory. Compared with the GPU's total memory: the worker's
     * own network is already on it when the check runs.
     */
    public static String gpuRefusal(long parameters, boolean exact, int ranks, int workersHere, int gpu, long totalBytes) {
        long need = needs(parameters, exact, ranks)[0] * workersHere;
        if (need <= totalBytes) return null;
        return String.format("train: the model does not fit GPU %d: %,d parameters need %s of GPU memory per worker"
                        + " (parameters, gradients, the exchange's buckets%s) × %d worker%s, but GPU %d has %s in all. Use"
                        + " GPUs with more memory, or train a smaller model.", gpu, parameters, gib(need / workersHere),
                exact ? "" : ", both AdamW moments", workersHere, workersHere == 1 ? "" : "s", gpu, gib(totalBytes));
    }

    static String gib(long bytes) {
        return bytes == Long.MAX_VALUE ? "no limit" : String.format("%.2f GiB (%,d bytes)", bytes / (double) (1L << 30), bytes);
    }
}
