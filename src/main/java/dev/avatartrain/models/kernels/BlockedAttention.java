package dev.avatartrain.models.kernels;

import java.nio.FloatBuffer;
import java.util.Arrays;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Tiled attention with an online softmax (FlashAttention-2's scheme) for heads of {@value #MIN_HEAD} channels and
 * more, built from small matrix products on tiles of {@value #ROWS} queries × {@value #KEYS} keys. Every product
 * (scores, {@code P V}, and in the backward pass {@code dO Vᵀ}, {@code Pᵀ dO}, {@code dSᵀ Q}, {@code dS K}) runs
 * through one register-blocked micro-kernel, {@link #gemm}: 4 output rows × up to 4 vectors of output columns held in
 * registers for the whole inner dimension, each step a broadcast of 4 scalars of the left operand and contiguous
 * vector loads of one row of the right one, so every inner dimension (d, keys or queries) amortises the accumulators'
 * loads and stores. The row-by-row kernel ({@link VectorAttention}, kept for heads under {@value #MIN_HEAD} channels,
 * where it is 2–3× faster than torch's) sums along the keys instead and is load-bound for wide heads.
 *
 * <p>Scores are held transposed, {@code Sᵀ = K Qᵀ} (keys × queries): the online softmax then runs lane-wise over
 * 16 queries at a time (maxima and sums without horizontal reductions), and {@code Oᵀ += Vᵀ Pᵀ} and
 * {@code dQᵀ += Kᵀ dSᵀ} have the head's channels as rows (blocks of 4) instead of columns (whole vectors: 40 channels
 * would be padded to 48). Operands are packed per head from the tokens' layout {@code [b·n, heads·d]} into Java arrays
 * padded with zeros to whole blocks, so the micro-kernel has no tails; padded queries get probability 0. The backward
 * pass runs key tiles outside and query tiles inside, accumulating dK and dV of a key tile over all queries and dQ of
 * the head across key tiles. The largest arrays are one head's packed operands and {@code ROWS × KEYS} tiles: no
 * {@code [n, m]} matrix. Parallel over (sample, head); every sum runs in a fixed order (lane-wise IEEE operations,
 * fused multiply-adds included), so results do not depend on JIT state or threads. Loaded only when the vector
 * module is present.
 */
final class BlockedAttention {
    private BlockedAttention() {
    }

    /** Heads of at least this many channels use this kernel (measured: docs/benchmarks.md "Network layers"). */
    static final int MIN_HEAD = 16;
    /**
     * The vectors, the same species as every other kernel: a 256-bit micro-kernel next to the 512-bit ones made all
     * vector code ≈ 10× slower in one JVM (docs/benchmarks.md).
     */
    private static final VectorSpecies<Float> V = FloatVector.SPECIES_PREFERRED;
    /** The element-wise steps' vectors (the exponential's species). */
    private static final VectorSpecies<Float> P = V;
    private static final int L = V.length();
    /** Queries per tile (a multiple of {@code L}). */
    static final int ROWS = 64;
    /** Keys per tile. */
    static final int KEYS = 64;

    private static int roundUp(int x, int to) {
        return (x + to - 1) / to * to;
    }

    /**
     * Per-thread working arrays, reused from call to call (a head's packed operands are up to a few hundred KB each;
     * allocating and zeroing them per head cost as much as the products at the small shapes). Slot {@code i} holds
     * the largest size asked for so far; callers initialise what they read.
     */
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[16][0]);

    private static float[] scratch(int slot, int size) {
        float[][] s = SCRATCH.get();
        if (s[slot].length < size) {
            s[slot] = new float[size];
        }
        return s[slot];
    }

    /**
     * One head's {@code [rows, d]} block (rows {@code stride} floats apart from {@code offset} on) into scratch slot
     * {@code slot} as {@code [paddedRows][dp]} with zeros around it.
     */
    private static float[] packRows(int slot, FloatBuffer in, int offset, int stride, int rows, int d, int paddedRows,
                                    int dp) {
        float[] out = scratch(slot, paddedRows * dp);
        if (dp == d && stride == d) {
            in.get(offset, out, 0, rows * d);
        } else {
            for (int r = 0; r < rows; r++) {
                in.get(offset + r * stride, out, r * dp, d);
                Arrays.fill(out, r * dp + d, (r + 1) * dp, 0f);
            }
        }
        Arrays.fill(out, rows * dp, paddedRows * dp, 0f);
        return out;
    }

    /**
     * One head's {@code [m, d]} block (as {@link #packRows}), transposed into scratch slot {@code slot} as
     * {@code [dRows][mp]} ({@code dRows ≥ d}, {@code mp ≥ m}) with zeros around it.
     */
    private static float[] packTransposed(int slot, FloatBuffer in, int offset, int stride, int m, int d, int dRows,
                                          int mp) {
        float[] block = packRows(0, in, offset, stride, m, d, m, d);
        float[] out = scratch(slot, dRows * mp);
        for (int j0 = 0; j0 < m; j0 += 16) { // 16 rows at a time: each output row gains a cache line, not a float
            int j1 = Math.min(m, j0 + 16);
            for (int t = 0; t < d; t++) {
                for (int j = j0; j < j1; j++) {
                    out[t * mp + j] = block[j * d + t];
                }
            }
        }
        for (int t = 0; t < d; t++) {
            Arrays.fill(out, t * mp + m, (t + 1) * mp, 0f);
        }
        Arrays.fill(out, d * mp, dRows * mp, 0f);
        return out;
    }

    /**
     * {@code C[r][col] = (add ? C[r][col] : 0) + Σ_{k<kLen} A(r, k) · B[k][col]} for {@code r < rows} (a multiple of
     * 4) and {@code col < cols} (a multiple of {@code L}), where {@code A(r, k) = a[ao + r·ars + k·aks]},
     * {@code B[k][col] = b[bo + k·ldb + col]} and {@code C[r][col] = c[co + r·ldc + col]}. Each output element is
     * one chain of fused multiply-adds in k order.
     */
    static void gemm(float[] a, int ao, int ars, int aks, float[] b, int bo, int ldb, float[] c, int co, int ldc,
                     int rows, int cols, int kLen, boolean add) {
        for (int r = 0; r < rows; r += 4) {
            int ar = ao + r * ars;
            int cr = co + r * ldc;
            for (int col = 0; col < cols; ) {
                int left = (cols - col) / L;
                int w = left == 4 || left >= 7 ? 4 : left >= 3 ? 3 : left; // 5 = 3 + 2, 6 = 3 + 3: no 1-wide blocks
                switch (w) {
                    case 4 -> kernel4x4(a, ar, ars, aks, b, bo + col, ldb, c, cr + col, ldc, kLen, add);
                    case 3 -> kernel4x3(a, ar, ars, aks, b, bo + col, ldb, c, cr + col, ldc, kLen, add);
                    case 2 -> kernel4x2(a, ar, ars, aks, b, bo + col, ldb, c, cr + col, ldc, kLen, add);
                    default -> kernel4x1(a, ar, ars, aks, b, bo + col, ldb, c, cr + col, ldc, kLen, add);
                }
                col += w * L;
            }
        }
    }

    private static FloatVector load(float[] c, int o, boolean add) {
        return add ? FloatVector.fromArray(V, c, o) : FloatVector.zero(V);
    }

    private static void kernel4x4(float[] a, int ao, int ars, int aks, float[] b, int bo, int ldb, float[] c, int co,
                                  int ldc, int kLen, boolean add) {
        int c1 = co + ldc;
        int c2 = c1 + ldc;
        int c3 = c2 + ldc;
        FloatVector x00 = load(c, co, add), x01 = load(c, co + L, add), x02 = load(c, co + 2 * L, add),
                x03 = load(c, co + 3 * L, add);
        FloatVector x10 = load(c, c1, add), x11 = load(c, c1 + L, add), x12 = load(c, c1 + 2 * L, add),
                x13 = load(c, c1 + 3 * L, add);
        FloatVector x20 = load(c, c2, add), x21 = load(c, c2 + L, add), x22 = load(c, c2 + 2 * L, add),
                x23 = load(c, c2 + 3 * L, add);
        FloatVector x30 = load(c, c3, add), x31 = load(c, c3 + L, add), x32 = load(c, c3 + 2 * L, add),
                x33 = load(c, c3 + 3 * L, add);
        for (int k = 0, ak = ao, bk = bo; k < kLen; k++, ak += aks, bk += ldb) {
            FloatVector b0 = FloatVector.fromArray(V, b, bk);
            FloatVector b1 = FloatVector.fromArray(V, b, bk + L);
            FloatVector b2 = FloatVector.fromArray(V, b, bk + 2 * L);
            FloatVector b3 = FloatVector.fromArray(V, b, bk + 3 * L);
            FloatVector s = FloatVector.broadcast(V, a[ak]);
            x00 = b0.fma(s, x00);
            x01 = b1.fma(s, x01);
            x02 = b2.fma(s, x02);
            x03 = b3.fma(s, x03);
            s = FloatVector.broadcast(V, a[ak + ars]);
            x10 = b0.fma(s, x10);
            x11 = b1.fma(s, x11);
            x12 = b2.fma(s, x12);
            x13 = b3.fma(s, x13);
            s = FloatVector.broadcast(V, a[ak + 2 * ars]);
            x20 = b0.fma(s, x20);
            x21 = b1.fma(s, x21);
            x22 = b2.fma(s, x22);
            x23 = b3.fma(s, x23);
            s = FloatVector.broadcast(V, a[ak + 3 * ars]);
            x30 = b0.fma(s, x30);
            x31 = b1.fma(s, x31);
            x32 = b2.fma(s, x32);
            x33 = b3.fma(s, x33);
        }
        x00.intoArray(c, co);
        x01.intoArray(c, co + L);
        x02.intoArray(c, co + 2 * L);
        x03.intoArray(c, co + 3 * L);
        x10.intoArray(c, c1);
        x11.intoArray(c, c1 + L);
        x12.intoArray(c, c1 + 2 * L);
        x13.intoArray(c, c1 + 3 * L);
        x20.intoArray(c, c2);
        x21.intoArray(c, c2 + L);
        x22.intoArray(c, c2 + 2 * L);
        x23.intoArray(c, c2 + 3 * L);
        x30.intoArray(c, c3);
        x31.intoArray(c, c3 + L);
        x32.intoArray(c, c3 + 2 * L);
        x33.intoArray(c, c3 + 3 * L);
    }

    private static void kernel4x3(float[] a, int ao, int ars, int aks, float[] b, int bo, int ldb, float[] c, int co,
                                  int ldc, int kLen, boolean add) {
        int c1 = co + ldc;
        int c2 = c1 + ldc;
        int c3 = c2 + ldc;
        FloatVector x00 = load(c, co, add), x01 = load(c, co + L, add), x02 = load(c, co + 2 * L, add);
        FloatVector x10 = load(c, c1, add), x11 = load(c, c1 + L, add), x12 = load(c, c1 + 2 * L, add);
        FloatVector x20 = load(c, c2, add), x21 = load(c, c2 + L, add), x22 = load(c, c2 + 2 * L, add);
        FloatVector x30 = load(c, c3, add), x31 = load(c, c3 + L, add), x32 = load(c, c3 + 2 * L, add);
        for (int k = 0, ak = ao, bk = bo; k < kLen; k++, ak += aks, bk += ldb) {
            FloatVector b0 = FloatVector.fromArray(V, b, bk);
            FloatVector b1 = FloatVector.fromArray(V, b, bk + L);
            FloatVector b2 = FloatVector.fromArray(V, b, bk + 2 * L);
            FloatVector s = FloatVector.broadcast(V, a[ak]);
            x00 = b0.fma(s, x00);
            x01 = b1.fma(s, x01);
            x02 = b2.fma(s, x02);
            s = FloatVector.broadcast(V, a[ak + ars]);
            x10 = b0.fma(s, x10);
            x11 = b1.fma(s, x11);
            x12 = b2.fma(s, x12);
            s = FloatVector.broadcast(V, a[ak + 2 * ars]);
            x20 = b0.fma(s, x20);
            x21 = b1.fma(s, x21);
            x22 = b2.fma(s, x22);
            s = FloatVector.broadcast(V, a[ak + 3 * ars]);
            x30 = b0.fma(s, x30);
            x31 = b1.fma(s, x31);
            x32 = b2.fma(s, x32);
        }
        x00.intoArray(c, co);
        x01.intoArray(c, co + L);
        x02.intoArray(c, co + 2 * L);
        x10.intoArray(c, c1);
        x11.intoArray(c, c1 + L);
        x12.intoArray(c, c1 + 2 * L);
        x20.intoArray(c, c2);
        x21.intoArray(c, c2 + L);
        x22.intoArray(c, c2 + 2 * L);
        x30.intoArray(c, c3);
        x31.intoArray(c, c3 + L);
        x32.intoArray(c, c3 + 2 * L);
    }

    private static void kernel4x2(float[] a, int ao, int ars, int aks, float[] b, int bo, int ldb, float[] c, int co,
                                  int ldc, int kLen, boolean add) {
        int c1 = co + ldc;
        int c2 = c1 + ldc;
        int c3 = c2 + ldc;
        FloatVector x00 = load(c, co, add), x01 = load(c, co + L, add);
        FloatVector x10 = load(c, c1, add), x11 = load(c, c1 + L, add);
        FloatVector x20 = load(c, c2, add), x21 = load(c, c2 + L, add);
        FloatVector x30 = load(c, c3, add), x31 = load(c, c3 + L, add);
        for (int k = 0, ak = ao, bk = bo; k < kLen; k++, ak += aks, bk += ldb) {
            FloatVector b0 = FloatVector.fromArray(V, b, bk);
            FloatVector b1 = FloatVector.fromArray(V, b, bk + L);
            FloatVector s = FloatVector.broadcast(V, a[ak]);
            x00 = b0.fma(s, x00);
            x01 = b1.fma(s, x01);
            s = FloatVector.broadcast(V, a[ak + ars]);
            x10 = b0.fma(s, x10);
            x11 = b1.fma(s, x11);
            s = FloatVector.broadcast(V, a[ak + 2 * ars]);
            x20 = b0.fma(s, x20);
            x21 = b1.fma(s, x21);
            s = FloatVector.broadcast(V, a[ak + 3 * ars]);
            x30 = b0.fma(s, x30);
            x31 = b1.fma(s, x31);
        }
        x00.intoArray(c, co);
        x01.intoArray(c, co + L);
        x10.intoArray(c, c1);
        x11.intoArray(c, c1 + L);
        x20.intoArray(c, c2);
        x21.intoArray(c, c2 + L);
        x30.intoArray(c, c3);
        x31.intoArray(c, c3 + L);
    }

    private static void kernel4x1(float[] a, int ao, int ars, int aks, float[] b, int bo, int ldb, float[] c, int co,
                                  int ldc, int kLen, boolean add) {
        int c1 = co + ldc;
        int c2 = c1 + ldc;
        int c3 = c2 + ldc;
        FloatVector x0 = load(c, co, add), x1 = load(c, c1, add), x2 = load(c, c2, add), x3 = load(c, c3, add);
        for (int k = 0, ak = ao, bk = bo; k < kLen; k++, ak += aks, bk += ldb) {
            FloatVector b0 = FloatVector.fromArray(V, b, bk);
            x0 = b0.fma(FloatVector.broadcast(V, a[ak]), x0);
            x1 = b0.fma(FloatVector.broadcast(V, a[ak + ars]), x1);
            x2 = b0.fma(FloatVector.broadcast(V, a[ak + 2 * ars]), x2);
            x3 = b0.fma(FloatVector.broadcast(V, a[ak + 3 * ars]), x3);
        }
        x0.intoArray(c, co);
        x1.intoArray(c, c1);
        x2.intoArray(c, c2);
        x3.intoArray(c, c3);
    }

    /**
     * The online softmax of one tile of transposed scores {@code st [keys][ROWS]} (query columns {@code [0, cols)},
     * in vectors): per query column the running maximum and sum gain the tile's keys, {@code alpha} receives the factor
     * that rescales what was accumulated before, and the scores become {@code exp(scale · s − max)}.
     */
    private static void softmaxTile(float[] st, int keys, int cols, float scale, float[] rowMax, float[] rowSum,
                                    float[] alpha) {
        for (int r = 0; r < cols; r += L) {
            FloatVector tileMax = FloatVector.broadcast(V, Float.NEGATIVE_INFINITY);
            for (int c = 0, o = r; c < keys; c++, o += ROWS) {
                tileMax = tileMax.max(FloatVector.fromArray(V, st, o));
            }
            FloatVector oldMax = FloatVector.fromArray(V, rowMax, r);
            FloatVector newMax = oldMax.max(tileMax.mul(scale));
            FloatVector sum = FloatVector.zero(V);
            for (int c = 0, o = r; c < keys; c++, o += ROWS) {
                FloatVector e = VectorRows.exp(FloatVector.fromArray(V, st, o).mul(scale).sub(newMax));
                e.intoArray(st, o);
                sum = sum.add(e);
            }
            FloatVector a = VectorRows.exp(oldMax.sub(newMax)); // 0 on the first tile (−∞)
            FloatVector.fromArray(V, rowSum, r).mul(a).add(sum).intoArray(rowSum, r);
            newMax.intoArray(rowMax, r);
            a.intoArray(alpha, r);
        }
    }

    /**
     * One tile of transposed scores {@code pt} and output-gradient products {@code dst} ({@code [keys][ROWS]}, query
     * columns {@code [0, cols)} starting at query {@code i0}) to the forward's probabilities {@code exp(scale · s −
     * lse)} and the score gradients {@code scale · P ∘ (dP − D)}, in one pass.
     */
    private static void gradientTile(float[] pt, float[] dst, int keys, int cols, float scale, float[] lse,
                                     float[] rowD, int i0) {
        for (int r = 0; r < cols; r += L) {
            FloatVector l = FloatVector.fromArray(V, lse, i0 + r);
            FloatVector dd = FloatVector.fromArray(V, rowD, i0 + r);
            for (int c = 0, o = r; c < keys; c++, o += ROWS) {
                FloatVector pv = VectorRows.exp(FloatVector.fromArray(V, pt, o).mul(scale).sub(l));
                pv.intoArray(pt, o);
                FloatVector.fromArray(V, dst, o).sub(dd).mul(pv).mul(scale).intoArray(dst, o);
            }
        }
    }

    /**
     * As {@link Attention#forward}, on token layouts {@code q, out [b·n, heads·d]}, {@code k, v [b·m, heads·d]} (split
     * heads are {@code heads = 1}); {@code lse [b·heads·n]} by (sample, head, query).
     */
    static void forward(FloatBuffer q, FloatBuffer k, FloatBuffer v, FloatBuffer out, float[] lse, int b, int heads,
                        int n, int m, int d, float scale) {
        int bh = b * heads;
        int inner = heads * d;
        int np = roundUp(n, L); // query columns, in whole vectors
        int mp = roundUp(m, 4); // key rows, in whole blocks
        int d4 = roundUp(d, 4);
        Buffers.parallel(bh, h -> {
            int qo = h / heads * n * inner + h % heads * d; // the head's first query row
            int ko = h / heads * m * inner + h % heads * d;
            float[] qT = packTransposed(1, q, qo, inner, n, d, d, np);
            float[] kp = packRows(2, k, ko, inner, m, d, mp, d);
            float[] vT = packTransposed(3, v, ko, inner, m, d, d4, mp);
            float[] st = scratch(4, KEYS * ROWS);
            float[] accT = scratch(5, d4 * ROWS); // Oᵀ of the query tile
            float[] rowMax = scratch(6, ROWS);
            float[] rowSum = scratch(7, ROWS);
            float[] alpha = scratch(8, ROWS);
            float[] o = scratch(9, d);
            for (int i0 = 0; i0 < np; i0 += ROWS) {
                int cols = Math.min(ROWS, np - i0);
                int valid = Math.min(cols, n - i0);
                Arrays.fill(rowMax, Float.NEGATIVE_INFINITY);
                Arrays.fill(rowSum, 0f);
                Arrays.fill(accT, 0, d4 * ROWS, 0f);
                for (int j0 = 0; j0 < m; j0 += KEYS) {
                    int keys = Math.min(KEYS, m - j0);
                    gemm(kp, j0 * d, d, 1, qT, i0, np, st, 0, ROWS, roundUp(keys, 4), cols, d, false); // Sᵀ = K Qᵀ
                    softmaxTile(st, keys, cols, scale, rowMax, rowSum, alpha);
                    if (j0 > 0) {
                        for (int t = 0; t < d; t++) {
                            for (int r = 0; r < cols; r += L) {
                                FloatVector.fromArray(V, accT, t * ROWS + r).mul(FloatVector.fromArray(V, alpha, r))
                                        .intoArray(accT, t * ROWS + r);
                            }
                        }
                    }
                    gemm(vT, j0, mp, 1, st, 0, ROWS, accT, 0, ROWS, d4, cols, keys, true); // Oᵀ += Vᵀ Pᵀ
                }
                for (int r = 0; r < valid; r++) {
                    float inv = 1 / rowSum[r];
                    for (int t = 0; t < d; t++) {
                        o[t] = accT[t * ROWS + r] * inv;
                    }
                    out.put(qo + (i0 + r) * inner, o, 0, d);
                    lse[h * n + i0 + r] = rowMax[r] + (float) Math.log(rowSum[r]);
                }
            }
        });
    }

    /**
     * As {@link Attention#backward}, given the forward's output {@code out}, on the layouts of {@link #forward}:
     * writes {@code dq}, {@code dk}, {@code dv}.
     */
    static void backward(FloatBuffer q, FloatBuffer k, FloatBuffer v, FloatBuffer out, float[] lse, FloatBuffer dOut,
                         FloatBuffer dq, FloatBuffer dk, FloatBuffer dv, int b, int heads, int n, int m, int d,
                         float scale) {
        int bh = b * heads;
        int inner = heads * d;
        int np = roundUp(n, L);
        int mp = roundUp(m, 4);
        int dp = roundUp(d, L);
        int d4 = roundUp(d, 4);
        Buffers.parallel(bh, h -> {
            int qo = h / heads * n * inner + h % heads * d;
            int ko = h / heads * m * inner + h % heads * d;
            float[] qT = packTransposed(1, q, qo, inner, n, d, d, np);
            float[] doT = packTransposed(2, dOut, qo, inner, n, d, d, np);
            float[] qp = packRows(3, q, qo, inner, n, d, np, dp);
            float[] dop = packRows(4, dOut, qo, inner, n, d, np, dp);
            float[] kp = packRows(5, k, ko, inner, m, d, mp, d);
            float[] vp = packRows(6, v, ko, inner, m, d, mp, d);
            float[] kT = packTransposed(7, k, ko, inner, m, d, d4, mp);
            // per query: log-sum-exp (+∞ for padded queries: probability 0) and D_i = dO_i · O_i (the softmax
            // backward's row sums)
            float[] lseP = scratch(8, np);
            float[] rowD = scratch(9, np);
            Arrays.fill(lseP, n, np, Float.POSITIVE_INFINITY);
            Arrays.fill(rowD, n, np, 0f);
            float[] o = scratch(10, d);
            for (int i = 0; i < n; i++) {
                lseP[i] = lse[h * n + i];
                out.get(qo + i * inner, o, 0, d);
                float dot = 0;
                for (int t = 0; t < d; t++) {
                    dot += dop[i * dp + t] * o[t];
                }
                rowD[i] = dot;
            }
            float[] dqT = scratch(11, d4 * np); // each of these is written before it is read
            float[] dkAcc = scratch(12, KEYS * dp);
            float[] dvAcc = scratch(13, KEYS * dp);
            float[] pt = scratch(14, KEYS * ROWS);
            float[] dst = scratch(15, KEYS * ROWS);
            for (int j0 = 0; j0 < m; j0 += KEYS) {
                int keys = Math.min(KEYS, m - j0);
                int keyRows = roundUp(keys, 4);
                for (int i0 = 0; i0 < np; i0 += ROWS) {
                    int cols = Math.min(ROWS, np - i0);
                    gemm(kp, j0 * d, d, 1, qT, i0, np, pt, 0, ROWS, keyRows, cols, d, false); // Sᵀ = K Qᵀ
                    gemm(vp, j0 * d, d, 1, doT, i0, np, dst, 0, ROWS, keyRows, cols, d, false); // dPᵀ = V dOᵀ
                    gradientTile(pt, dst, keys, cols, scale, lseP, rowD, i0);
                    boolean add = i0 > 0;
                    gemm(pt, 0, ROWS, 1, dop, i0 * dp, dp, dvAcc, 0, dp, keyRows, dp, cols, add); // dV += Pᵀ dO
                    gemm(dst, 0, ROWS, 1, qp, i0 * dp, dp, dkAcc, 0, dp, keyRows, dp, cols, add); // dK += dSᵀ Q
                    gemm(kT, j0, mp, 1, dst, 0, ROWS, dqT, i0, np, d4, cols, keys, j0 > 0); // dQᵀ += Kᵀ dSᵀ
                }
                for (int j = 0; j < keys; j++) {
                    dk.put(ko + (j0 + j) * inner, dkAcc, j * dp, d);
                    dv.put(ko + (j0 + j) * inner, dvAcc, j * dp, d);
                }
            }
            float[] rows = scratch(3, 16 * d); // qp is no longer needed
            for (int i0 = 0; i0 < n; i0 += 16) { // dQᵀ back to rows, 16 at a time (as packTransposed)
                int count = Math.min(16, n - i0);
                for (int t = 0; t < d; t++) {
                    for (int i = 0; i < count; i++) {
                        rows[i * d + t] = dqT[t * np + i0 + i];
                    }
                }
                for (int i = 0; i < count; i++) {
                    dq.put(qo + (i0 + i) * inner, rows, i * d, d);
                }
            }
        });
    }
}
