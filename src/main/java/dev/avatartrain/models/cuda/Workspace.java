package dev.avatartrain.models.cuda;

/**
 * Sizes of the device buffers the ops need beyond their outputs: pool allocations rounded to 256 bytes (the
 * alignment cuBLAS and cuDNN want), the float32 attention path's score matrices and how many (batch × head) slices
 * of them fit a memory budget at once, and the saved statistics of the norms.
 */
public final class Workspace {
    /** Alignment of every pool allocation, in bytes. */
    public static final long ALIGNMENT = 256;

    private Workspace() {
    }

    public static long align(long bytes) {
        if (bytes < 0) {
            throw new IllegalArgumentException("negative size " + bytes);
        }
        return (bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    /** Bytes of the float32 scores/probabilities {@code [batch·heads, queries, keys]} of the GEMM + softmax path. */
    public static long attentionScores(long batch, int heads, long queries, long keys) {
        return Math.multiplyExact(Math.multiplyExact(Math.multiplyExact(batch, heads), queries), keys) * 4;
    }

    /**
     * How many (batch × head) slices the backward pass of the float32 attention path handles per strided-batched GEMM
     * so that the chunk's two temporaries (the probabilities' and the scores' gradients, float32) fit
     * {@code budgetBytes}; at least one.
     */
    public static long attentionSlicesPerChunk(long queries, long keys, long budgetBytes) {
        long perSlice = align(Math.multiplyExact(queries, keys) * 4) * 2;
        return Math.max(1, budgetBytes / perSlice);
    }

    /** Bytes of the mean and 1/std a norm saves for its backward pass: two float32 per normalised group or row. */
    public static long normStatistics(long groups) {
        return align(groups * 4) * 2;
    }
}
