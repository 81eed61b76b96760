package dev.avatartrain.models.kernels;

import java.nio.FloatBuffer;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Per-kernel timings of the hand-written layers: bench/java.sh dev.avatartrain.models.kernels.KernelBench. */
public final class KernelBench {
    public static void main(String[] args) {
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
}
