package dev.avatartrain.models.kernels;

import java.nio.FloatBuffer;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Per-kernel timings of the hand-written layers: bench/java.sh dev.avatartrain.models.kernels.KernelBench. */
public final class KernelBench {
    public static void main(String[] args) {
        if (args.length > 0 && args[0].equals("elementwise")) {
            elementwise();
            return;
        }
        if (args.length > 0 && args[0].equals("gemm")) {
            gemm();
            return;
        }
        if (args.length > 0 && args[0].equals("shapes")) {
            shapes(args);
            return;
        }
        int n = 1024;
        int heads = 96;
        INDArray s = Nd4j.randn(DataType.FLOAT, heads, n, n);
        float[] lse0 = new float[heads * n];
        for (int rep = 0; rep < 5; rep++) {
            long t0 = System.nanoTime();
            for (int h = 0; h < heads; h++) {
                FloatBuffer b = Buffers.floats(s.get(org.nd4j.linalg.indexing.NDArrayIndex.point(h)));
                Attention.softmaxRows(b, n, n, lse0, h * n);
            }
            long t1 = System.nanoTime();
            System.out.printf("softmax rows %d x %d x %d: %.0f ms (%.2f ns/element)%n", heads, n, n, (t1 - t0) / 1e6,
                    (t1 - t0) / (double) (heads * (long) n * n));
        }
        for (int d : new int[] {4, 8, 16, 40, 80, 160}) {
            INDArray q = Nd4j.randn(DataType.FLOAT, heads, n, d);
            for (boolean tiled : new boolean[] {false, true}) {
                Attention.tiled = tiled;
                for (int rep = 0; rep < 3; rep++) {
                    float[] lse = new float[heads * n];
                    long t0 = System.nanoTime();
                    INDArray o = Attention.forward(q, q, q, lse, 0.5);
                    long t1 = System.nanoTime();
                    Attention.backward(q, q, q, o, lse, o, 0.5);
                    long t2 = System.nanoTime();
                    System.out.printf("attention %d heads x %d x %d x %d, %s: forward %.0f ms, backward %.0f ms%n", heads,
                            n, n, d, tiled ? "tiled" : "per-head GEMMs", (t1 - t0) / 1e6, (t2 - t1) / 1e6);
                }
            }
        }
        float[] x = new float[1 << 20];
        for (int i = 0; i < x.length; i++) x[i] = -i * 1e-5f;
        for (int rep = 0; rep < 5; rep++) {
            long t0 = System.nanoTime();
            float acc = 0;
            for (int k = 0; k < 20; k++) for (float v : x) acc += FastMath.exp(v);
            long t1 = System.nanoTime();
            float acc2 = 0;
            for (int k = 0; k < 20; k++) for (float v : x) acc2 += (float) Math.exp(v);
            long t2 = System.nanoTime();
            System.out.printf("FastMath.exp %.2f ns, Math.exp %.2f ns per call (%f %f)%n", (t1 - t0) / (20.0 * x.length),
                    (t2 - t1) / (20.0 * x.length), acc, acc2);
        }
    }

    /**
     * Attention forward and backward (split heads, no head moves) at the default config's shapes, every path:
     * {@code shapes [paths...]}, paths among tiled (as the layers run it), vector (the row-by-row kernel for every
     * head size), gemm (per-head GEMMs over an [n, m] scratch).
     */
    static void shapes(String[] args) {
        int[][] cases = {{16, 1024, 1024, 40}, {16, 256, 256, 80}, {16, 64, 64, 160}, {16, 1024, 50, 40},
                {96, 256, 256, 16}};
        String only = System.getProperty("cases"); // e.g. -Dcases=2,3: indices into cases
        for (int ci = 0; ci < cases.length; ci++) {
            if (only != null && !java.util.Arrays.asList(only.split(",")).contains(String.valueOf(ci))) {
                continue;
            }
            int[] c = cases[ci];
            int bh = c[0], n = c[1], m = c[2], d = c[3];
            INDArray q = Nd4j.randn(DataType.FLOAT, bh, n, d);
            INDArray k = Nd4j.randn(DataType.FLOAT, bh, m, d);
            INDArray v = Nd4j.randn(DataType.FLOAT, bh, m, d);
            for (int a = 1; a < Math.max(2, args.length); a++) {
                String path = args.length > 1 ? args[a] : "tiled";
                Attention.tiled = !path.equals("gemm");
                Attention.blockedFrom = path.equals("vector") ? Integer.MAX_VALUE : BlockedAttention.MIN_HEAD;
                long bestF = Long.MAX_VALUE, bestB = Long.MAX_VALUE;
                for (int rep = 0; rep < Integer.getInteger("reps", 6); rep++) {
                    float[] lse = new float[bh * n];
                    long t0 = System.nanoTime();
                    INDArray o = Attention.forward(q, k, v, lse, 0.5);
                    long t1 = System.nanoTime();
                    Attention.backward(q, k, v, o, lse, o, 0.5);
                    long t2 = System.nanoTime();
                    bestF = Math.min(bestF, t1 - t0);
                    bestB = Math.min(bestB, t2 - t1);
                }
                System.out.printf("attention %dx%dx%dx%d %s: forward %.1f ms, backward %.1f ms%n", bh, n, m, d, path,
                        bestF / 1e6, bestB / 1e6);
            }
        }
    }

    /** Single-thread GFLOP/s of the tile micro-kernel at the attention tiles' shapes: rows × cols × k, A by rows or columns. */
    static void gemm() {
        int[][] cases = {{64, 64, 40, 0}, {64, 48, 64, 0}, {64, 48, 64, 1}, {64, 64, 160, 0}, {64, 160, 64, 0},
                {64, 160, 64, 1}, {64, 80, 64, 0}};
        float[] a = new float[64 * 256];
        float[] b = new float[256 * 256];
        float[] c = new float[64 * 256];
        for (int rep = 0; rep < 3; rep++) {
            for (int[] cs : cases) {
                int rows = cs[0], cols = cs[1], k = cs[2];
                boolean byColumns = cs[3] == 1;
                int calls = (int) (2e9 / (2.0 * rows * cols * k));
                long t0 = System.nanoTime();
                for (int i = 0; i < calls; i++) {
                    if (byColumns) {
                        BlockedAttention.gemm(a, 0, 1, 64, b, 0, cols, c, 0, cols, rows, cols, k, true);
                    } else {
                        BlockedAttention.gemm(a, 0, k, 1, b, 0, cols, c, 0, cols, rows, cols, k, i > 0);
                    }
                }
                long t1 = System.nanoTime();
                System.out.printf("tile gemm %dx%dx%d%s: %.1f GFLOP/s%n", rows, cols, k, byColumns ? " (A by columns)" : "",
                        2.0 * rows * cols * k * calls / (t1 - t0));
            }
        }
    }

    /** The activation kernels alone on buffers (no tape, outputs preallocated): GELU and SiLU over 12288 × 256. */
    static void elementwise() {
        int n = 12288 * 256;
        INDArray x = Nd4j.randn(DataType.FLOAT, n);
        INDArray y = Nd4j.create(DataType.FLOAT, n);
        INDArray g = Nd4j.randn(DataType.FLOAT, n);
        INDArray dx = Nd4j.create(DataType.FLOAT, n);
        for (int rep = 0; rep < 8; rep++) {
            for (Activation act : new Activation[] {Activation.GELU, Activation.SILU}) {
                long t0 = System.nanoTime();
                Activation.forward(act, Buffers.floats(x), Buffers.floats(y), n);
                long t1 = System.nanoTime();
                Activation.backward(act, Buffers.floats(x), Buffers.floats(g), Buffers.floats(dx), n);
                long t2 = System.nanoTime();
                System.out.printf("%s kernel %d elements: forward %.1f ms, backward %.1f ms%n", act, n, (t1 - t0) / 1e6,
                        (t2 - t1) / 1e6);
            }
        }
    }
}
