package dev.avatartrain.models.kernels;

import java.nio.FloatBuffer;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Multi-head scaled dot-product attention, {@code softmax(Q Kᵀ / √d) V}, one (sample, head) at a time: the scores
 * of one head are a GEMM into the saved probabilities, the softmax runs in place over them, and the backward pass
 * needs one head-sized scratch matrix. SameDiff's version keeps the scores, the probabilities and every
 * intermediate of the backward pass for all heads at once ({@code [B, heads, N, M]} each).
 */
final class Attention {
    private Attention() {
    }

    /** {@code [B·n, heads·d]} (tokens, heads interleaved as a linear layer writes them) to {@code [B·heads, n, d]}. */
    static INDArray splitHeads(INDArray x, int b, int n, int heads, int d) {
        INDArray out = Buffers.empty((long) b * heads, n, d);
        FloatBuffer src = Buffers.floats(x);
        FloatBuffer dst = Buffers.floats(out);
        int inner = heads * d;
        Buffers.parallel(b * heads, bh -> {
            int bi = bh / heads;
            int h = bh % heads;
            for (int i = 0; i < n; i++) {
                int s = (bi * n + i) * inner + h * d;
                int t = (bh * n + i) * d;
                for (int j = 0; j < d; j++) {
                    dst.put(t + j, src.get(s + j));
                }
            }
        });
        return out;
    }

    /** Inverse of {@link #splitHeads}. */
    static INDArray mergeHeads(INDArray x, int b, int n, int heads, int d) {
        INDArray out = Buffers.empty((long) b * n, (long) heads * d);
        FloatBuffer src = Buffers.floats(x);
        FloatBuffer dst = Buffers.floats(out);
        int inner = heads * d;
        Buffers.parallel(b * heads, bh -> {
            int bi = bh / heads;
            int h = bh % heads;
            for (int i = 0; i < n; i++) {
                int t = (bi * n + i) * inner + h * d;
                int s = (bh * n + i) * d;
                for (int j = 0; j < d; j++) {
                    dst.put(t + j, src.get(s + j));
                }
            }
        });
        return out;
    }

    private static INDArray head(INDArray a, int i) {
        return a.get(NDArrayIndex.point(i), NDArrayIndex.all(), NDArrayIndex.all());
    }

    /**
     * Forward on split heads {@code q [BH, n, d]}, {@code k, v [BH, m, d]}: returns the output {@code [BH, n, d]}
     * and fills {@code probs [BH, n, m]} (kept for the backward pass).
     */
    static INDArray forward(INDArray q, INDArray k, INDArray v, INDArray probs, double scale) {
        int bh = (int) q.size(0);
        int n = (int) q.size(1);
        int m = (int) k.size(1);
        INDArray out = Buffers.empty(q.shape());
        for (int i = 0; i < bh; i++) {
            INDArray p = head(probs, i);
            Nd4j.gemm(head(q, i), head(k, i), p, false, true, scale, 0.0);
            softmaxRows(Buffers.floats(p), n, m);
            Nd4j.gemm(p, head(v, i), head(out, i), false, false, 1.0, 0.0);
        }
        return out;
    }

    /** Gradients {dQ, dK, dV} (split heads) from {@code dOut [BH, n, d]}. */
    static INDArray[] backward(INDArray q, INDArray k, INDArray v, INDArray probs, INDArray dOut, double scale) {
        int bh = (int) q.size(0);
        int n = (int) q.size(1);
        int m = (int) k.size(1);
        INDArray dq = Buffers.empty(q.shape());
        INDArray dk = Buffers.empty(k.shape());
        INDArray dv = Buffers.empty(v.shape());
        INDArray ds = Buffers.empty(n, m);
        FloatBuffer dsBuf = Buffers.floats(ds);
        for (int i = 0; i < bh; i++) {
            INDArray p = head(probs, i);
            INDArray dO = head(dOut, i);
            Nd4j.gemm(p, dO, head(dv, i), true, false, 1.0, 0.0);
            Nd4j.gemm(dO, head(v, i), ds, false, true, 1.0, 0.0); // dP
            softmaxBackwardRows(Buffers.floats(p), dsBuf, n, m, (float) scale); // dP -> scale · dS
            Nd4j.gemm(ds, head(k, i), head(dq, i), false, false, 1.0, 0.0);
            Nd4j.gemm(ds, head(q, i), head(dk, i), true, false, 1.0, 0.0);
        }
        return new INDArray[] {dq, dk, dv};
    }

    /** Softmax of each row of {@code s [n, m]}, in place. */
    static void softmaxRows(FloatBuffer s, int n, int m) {
        int chunks = Buffers.chunks(n);
        Buffers.parallel(chunks, ch -> {
            float[] row = new float[m];
            for (int r = Buffers.chunkStart(ch, chunks, n); r < Buffers.chunkStart(ch + 1, chunks, n); r++) {
                s.get(r * m, row);
                Rows.softmax(row, m);
                s.put(r * m, row);
            }
        });
    }

    /** {@code dp ← scale · p ∘ (dp − rowsum(p ∘ dp))}, the softmax backward, in place in {@code dp}. */
    static void softmaxBackwardRows(FloatBuffer p, FloatBuffer dp, int n, int m, float scale) {
        int chunks = Buffers.chunks(n);
        Buffers.parallel(chunks, ch -> {
            float[] pr = new float[m];
            float[] dr = new float[m];
            for (int r = Buffers.chunkStart(ch, chunks, n); r < Buffers.chunkStart(ch + 1, chunks, n); r++) {
                p.get(r * m, pr);
                dp.get(r * m, dr);
                Rows.softmaxBackward(pr, dr, m, scale);
                dp.put(r * m, dr);
            }
        });
    }
}
