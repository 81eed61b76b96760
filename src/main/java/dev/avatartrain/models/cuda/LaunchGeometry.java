package dev.avatartrain.models.cuda;

/**
 * Grid and block sizes of the kernels, by the shape of their loops (see the comments in the {@code .cu} files):
 * grid-stride loops over n elements, one block per row (norms, softmax, row losses), one thread per column
 * (parameter-gradient sums) and the 32×32-tile transpose. {@code blockX/Y/Z} and {@code gridX/Y/Z} are what
 * {@code cuLaunchKernel} takes.
 */
public record LaunchGeometry(int gridX, int gridY, int gridZ, int blockX, int blockY, int blockZ) {
    /** Threads per block of the element-wise kernels. */
    public static final int THREADS = 256;
    /** CUDA's limit on gridDim.y and gridDim.z. */
    static final int MAX_GRID_YZ = 65535;
    /** The transpose's tile edge (TILE in layout.cu) and its block height. */
    static final int TILE = 32;
    static final int TILE_ROWS = 8;

    public long threads() {
        return (long) gridX * gridY * gridZ * blockX * blockY * blockZ;
    }

    /**
     * A grid-stride loop over {@code n} elements: enough blocks to give each thread one element, capped at
     * {@code maxBlocks} (a few waves of the GPU's multiprocessors); the loop covers the rest.
     */
    public static LaunchGeometry gridStride(long n, int maxBlocks) {
        if (n < 0 || maxBlocks < 1) {
            throw new IllegalArgumentException("n = " + n + ", maxBlocks = " + maxBlocks);
        }
        long blocks = Math.max(1, Math.min((n + THREADS - 1) / THREADS, maxBlocks));
        return new LaunchGeometry((int) blocks, 1, 1, THREADS, 1, 1);
    }

    /** The cap {@link #gridStride} uses on a GPU with {@code multiprocessors} SMs: 8 blocks of 256 threads each. */
    public static int maxBlocks(int multiprocessors) {
        return Math.max(1, multiprocessors) * 8;
    }

    /**
     * One block per row of {@code rowLength} elements: a power of two of threads, at least a warp, at most 1024, no
     * more than the row needs (the kernels' block reductions want whole warps).
     */
    public static LaunchGeometry perRow(long rows, long rowLength) {
        if (rows < 1 || rows > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("rows = " + rows + " (1 .. 2^31-1 per launch)");
        }
        int threads = 32;
        while (threads < 1024 && threads < rowLength) {
            threads <<= 1;
        }
        return new LaunchGeometry((int) rows, 1, 1, threads, 1, 1);
    }

    /** One thread per column of a {@code [rows, columns]} buffer. */
    public static LaunchGeometry perColumn(long columns) {
        return new LaunchGeometry((int) Math.max(1, (columns + THREADS - 1) / THREADS), 1, 1, THREADS, 1, 1);
    }

    /** {@code batch} transposes of {@code [rows, cols]}: 32×32 tiles, blocks of 32×8 threads. */
    public static LaunchGeometry transpose(long batch, long rows, long cols) {
        long tilesY = (rows + TILE - 1) / TILE;
        if (batch > MAX_GRID_YZ || tilesY > MAX_GRID_YZ) {
            throw new IllegalArgumentException("transpose of " + batch + " × [" + rows + ", " + cols
                    + "]: more than " + MAX_GRID_YZ + " batches or row tiles per launch");
        }
        return new LaunchGeometry((int) ((cols + TILE - 1) / TILE), (int) tilesY, (int) batch, TILE, TILE_ROWS, 1);
    }
}
