package dev.avatartrain.models.kernels;

import java.nio.FloatBuffer;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Multi-head scaled dot-product attention, {@code softmax(Q Kᵀ / √d) V}. With the vector module (every launcher of
 * this project) it runs tiled with an online softmax ({@link BlockedAttention} for heads of 16 channels and more,
 * {@link VectorAttention} for smaller ones): no {@code [n, m]} matrix per head,
 * only each row's log-sum-exp is kept for the backward pass, which recomputes the probabilities tile by tile (as
 * FlashAttention does). Without it, one (sample, head) at a time in a head-sized scratch matrix by GEMMs. SameDiff's
 * version keeps the scores, the probabilities and every intermediate of the backward pass for all heads at once
 * ({@code [B, heads, N, M]} each).
 */
final class Attention {
    private Attention() {
    }

    /** {@code [B·n, heads·d]} (tokens, heads interleaved as a linear layer writes them) to {@code [B·heads, n, d]}. */
    static INDArray splitHeads(INDArray x, int b, int n, int heads, int d) {
        return moveHeads(x, Buffers.empty((long) b * heads, n, d), b, n, heads, d, true);
    }

    /** Inverse of {@link #splitHeads}. */
    static INDArray mergeHeads(INDArray x, int b, int n, int heads, int d) {
        return moveHeads(x, Buffers.empty((long) b * n, (long) heads * d), b, n, heads, d, false);
    }

    /** Copies each (sample, head, token) row of {@code d} floats between the two layouts; returns {@code out}. */
    private static INDArray moveHeads(INDArray x, INDArray out, int b, int n, int heads, int d, boolean split) {
        FloatBuffer src = Buffers.floats(x);
        FloatBuffer dst = Buffers.floats(out);
        int inner = heads * d;
        Buffers.parallel(b * heads, bh -> {
            int bi = bh / heads;
            int h = bh % heads;
            for (int i = 0; i < n; i++) {
                int tokens = (bi * n + i) * inner + h * d;
                int perHead = (bh * n + i) * d;
                int from = split ? tokens : perHead;
                int to = split ? perHead : tokens;
                dst.put(to, src, from, d);
            }
        });
        return out;
    }

    /**
     * Whether attention runs tiled ({@link VectorAttention}, every head size); off, or without the vector module, it
     * runs by per-head GEMMs over an {@code [n, m]} scratch matrix (the reference the tiled kernel is tested against).
     */
    static boolean tiled = Rows.VECTOR;

    /** Heads of at least this many channels run tiled on {@link BlockedAttention}, smaller ones on {@link VectorAttention}. */
    static int blockedFrom = BlockedAttention.MIN_HEAD;

    /** Whether heads of {@code d} channels run on {@link BlockedAttention}. */
    static boolean blocked(int d) {
        return tiled && d >= blockedFrom;
    }

    /**
     * Forward on the tokens' layout, {@code q [B·n, heads·d]}, {@code k, v [B·m, heads·d]}, for heads that run
     * {@link #blocked}: no split of the heads (the kernel packs each head's rows itself). Returns {@code [B·n, heads·d]};
     * {@code lse} as {@link #forward}.
     */
    static INDArray forwardTokens(INDArray q, INDArray k, INDArray v, int batch, int heads, float[] lse, double scale) {
        int n = (int) (q.size(0) / batch);
        int m = (int) (k.size(0) / batch);
        int d = (int) (q.size(1) / heads);
        INDArray out = Buffers.empty(q.shape());
        BlockedAttention.forward(Buffers.floats(q), Buffers.floats(k), Buffers.floats(v), Buffers.floats(out), lse,
                batch, heads, n, m, d, (float) scale);
        return out;
    }

    /** Gradients {dQ, dK, dV} on the tokens' layout, as {@link #forwardTokens}, given its output {@code out}. */
    static INDArray[] backwardTokens(INDArray q, INDArray k, INDArray v, INDArray out, float[] lse, INDArray dOut,
                                     int batch, int heads, double scale) {
        int n = (int) (q.size(0) / batch);
        int m = (int) (k.size(0) / batch);
        int d = (int) (q.size(1) / heads);
        INDArray dq = Buffers.empty(q.shape());
        INDArray dk = Buffers.empty(k.shape());
        INDArray dv = Buffers.empty(v.shape());
        BlockedAttention.backward(Buffers.floats(q), Buffers.floats(k), Buffers.floats(v), Buffers.floats(out), lse,
                Buffers.floats(dOut), Buffers.floats(dq), Buffers.floats(dk), Buffers.floats(dv), batch, heads, n, m,
                d, (float) scale);
        return new INDArray[] {dq, dk, dv};
    }

    private static INDArray head(INDArray a, int i) {
        return a.get(NDArrayIndex.point(i), NDArrayIndex.all(), NDArrayIndex.all());
    }

    /**
     * Forward on split heads {@code q [BH, n, d]}, {@code k, v [BH, m, d]}: returns the output {@code [BH, n, d]} and
     * fills {@code lse [BH·n]} with each score row's log-sum-exp, from which the backward pass recomputes the
     * probabilities (a GEMM and an exponential per head) instead of keeping {@code [BH, n, m]} of them: allocating
     * and faulting in that array cost more than the recomputation (docs/benchmarks.md).
     */
    static INDArray forward(INDArray q, INDArray k, INDArray v, float[] lse, double scale) {
        int bh = (int) q.size(0);
        int n = (int) q.size(1);
        int m = (int) k.size(1);
        int d = (int) q.size(2);
        INDArray out = Buffers.empty(q.shape());
        if (blocked(d)) {
            BlockedAttention.forward(Buffers.floats(q), Buffers.floats(k), Buffers.floats(v), Buffers.floats(out), lse,
                    bh, 1, n, m, d, (float) scale);
            return out;
        }
        if (tiled) {
            VectorAttention.forward(Buffers.floats(q), Buffers.floats(k), Buffers.floats(v), Buffers.floats(out), lse,
                    bh, n, m, d, (float) scale);
            return out;
        }
        INDArray p = Buffers.empty(n, m); // one head's scores, then probabilities
        FloatBuffer pb = Buffers.floats(p);
        for (int i = 0; i < bh; i++) {
            Nd4j.gemm(head(q, i), head(k, i), p, false, true, scale, 0.0);
            softmaxRows(pb, n, m, lse, i * n);
            Nd4j.gemm(p, head(v, i), head(out, i), false, false, 1.0, 0.0);
        }
        return out;
    }

    /** Gradients {dQ, dK, dV} (split heads) from {@code dOut [BH, n, d]}; recomputes the forward's output. */
    static INDArray[] backward(INDArray q, INDArray k, INDArray v, float[] lse, INDArray dOut, double scale) {
        INDArray out = tiled ? forward(q, k, v, new float[lse.length], scale) : null;
        return backward(q, k, v, out, lse, dOut, scale);
    }

    /**
     * Gradients {dQ, dK, dV} (split heads) from {@code dOut [BH, n, d]}, given the forward's output {@code out} and
     * {@code lse} (the tiled kernel takes each row's {@code dO · O}; the GEMM path ignores {@code out}).
     */
    static INDArray[] backward(INDArray q, INDArray k, INDArray v, INDArray out, float[] lse, INDArray dOut,
                               double scale) {
        int bh = (int) q.size(0);
        int n = (int) q.size(1);
        int m = (int) k.size(1);
        int d = (int) q.size(2);
        INDArray dq = Buffers.empty(q.shape());
        INDArray dk = Buffers.empty(k.shape());
        INDArray dv = Buffers.empty(v.shape());
        if (blocked(d)) {
            BlockedAttention.backward(Buffers.floats(q), Buffers.floats(k), Buffers.floats(v), Buffers.floats(out),
                    lse, Buffers.floats(dOut), Buffers.floats(dq), Buffers.floats(dk), Buffers.floats(dv), bh, 1, n, m,
                    d, (float) scale);
            return new INDArray[] {dq, dk, dv};
        }
        if (tiled) {
            VectorAttention.backward(Buffers.floats(q), Buffers.floats(k), Buffers.floats(v), Buffers.floats(out), lse,
                    Buffers.floats(dOut), Buffers.floats(dq), Buffers.floats(dk), Buffers.floats(dv), bh, n, m, d,
                    (float) scale);
            return new INDArray[] {dq, dk, dv};
        }
        INDArray p = Buffers.empty(n, m);
        INDArray ds = Buffers.empty(n, m);
        FloatBuffer pb = Buffers.floats(p);
        FloatBuffer dsBuf = Buffers.floats(ds);
        for (int i = 0; i < bh; i++) {
            Nd4j.gemm(head(q, i), head(k, i), p, false, true, scale, 0.0);
            expRows(pb, n, m, lse, i * n); // the forward's probabilities
            INDArray dO = head(dOut, i);
            Nd4j.gemm(p, dO, head(dv, i), true, false, 1.0, 0.0);
            Nd4j.gemm(dO, head(v, i), ds, false, true, 1.0, 0.0); // dP
            softmaxBackwardRows(pb, dsBuf, n, m, (float) scale); // dP -> scale · dS
            Nd4j.gemm(ds, head(k, i), head(dq, i), false, false, 1.0, 0.0);
            Nd4j.gemm(ds, head(q, i), head(dk, i), true, false, 1.0, 0.0);
        }
        return new INDArray[] {dq, dk, dv};
    }

    /** Softmax of each row of {@code s [n, m]}, in place; row r's log-sum-exp goes to {@code lse[offset + r]}. */
    static void softmaxRows(FloatBuffer s, int n, int m, float[] lse, int offset) {
        int chunks = Buffers.chunks(n);
        Buffers.parallel(chunks, ch -> {
            float[] row = new float[m];
            for (int r = Buffers.chunkStart(ch, chunks, n); r < Buffers.chunkStart(ch + 1, chunks, n); r++) {
                s.get(r * m, row);
                lse[offset + r] = Rows.softmax(row, m);
                s.put(r * m, row);
            }
        });
    }

    /** {@code s ← exp(s − lse[offset + r])} for each row r: scores back to the forward pass's probabilities. */
    static void expRows(FloatBuffer s, int n, int m, float[] lse, int offset) {
        int chunks = Buffers.chunks(n);
        Buffers.parallel(chunks, ch -> {
            float[] row = new float[m];
            for (int r = Buffers.chunkStart(ch, chunks, n); r < Buffers.chunkStart(ch + 1, chunks, n); r++) {
                s.get(r * m, row);
                Rows.expShifted(row, m, lse[offset + r]);
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
