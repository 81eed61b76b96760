package dev.avatartrain.models.kernels;

import java.nio.FloatBuffer;
import java.util.Arrays;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Tiled attention with an online softmax (the FlashAttention-2 scheme), for heads under
 * {@value BlockedAttention#MIN_HEAD} channels (it handles every size; wider heads run on {@link BlockedAttention}): one
 * (sample, head) per task, {@value #ROWS} query rows at a time against tiles of {@value #KEYS} keys, so that nothing larger than a
 * {@code ROWS × KEYS} tile of scores is materialised (no {@code [n, m]} matrix per head). Keys and values are held
 * transposed ({@code [d][m]}) so that every inner loop runs along the keys in full vectors whatever the head size
 * (4–160 channels in the configs): scores are {@code d} broadcast multiply-adds of a key row per block of four query
 * rows, products with the values are dot products along the keys kept as vector partial sums until the block ends.
 * The forward pass keeps only each row's log-sum-exp; the backward pass recomputes the probabilities tile by tile and
 * uses {@code D_i = dO_i · O_i} in place of the softmax's row sums.
 *
 * <p>Same arithmetic contract as {@link VectorRows}: lane-wise IEEE operations (fused multiply-adds included, which
 * round the same compiled or not) and lane sums in a fixed order, so results do not depend on JIT state. Loaded only
 * when the vector module is present.
 */
final class VectorAttention {
    private VectorAttention() {
    }

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Query rows per block: four accumulators per key vector (register blocking). */
    static final int ROWS = 4;
    /** Keys per tile: a block's score tile, {@code ROWS × KEYS} floats, stays in L1. */
    static final int KEYS = 256;

    /** One head's {@code [m, d]} block starting at {@code offset}, transposed to {@code [d][m]} (flat). */
    private static float[] transposed(FloatBuffer in, int offset, int m, int d) {
        float[] block = new float[m * d];
        in.get(offset, block);
        float[] out = new float[d * m];
        for (int j = 0; j < m; j++) {
            for (int t = 0; t < d; t++) {
                out[t * m + j] = block[j * d + t];
            }
        }
        return out;
    }

    private static float[] rows(FloatBuffer in, int offset, int count) {
        float[] out = new float[count];
        in.get(offset, out);
        return out;
    }

    /**
     * {@code s[r·KEYS + c] = scale · Σ_t a[(i0 + r)·d + t] · bT[t·m + j0 + c]} for {@code r < rows}, {@code c < cols}:
     * a block of query (or output-gradient) rows times a tile of transposed key (or value) columns.
     */
    private static void products(float[] a, int i0, int rows, float[] bT, int m, int j0, int cols, int d, float scale,
                                 float[] s) {
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            products4(a, (i0 + r) * d, bT, m, j0, cols, d, scale, s, r * KEYS);
        }
        for (; r < rows; r++) {
            products1(a, (i0 + r) * d, bT, m, j0, cols, d, scale, s, r * KEYS);
        }
    }

    private static void products4(float[] a, int ao, float[] bT, int m, int j0, int cols, int d, float scale,
                                  float[] s, int so) {
        int a1 = ao + d;
        int a2 = ao + 2 * d;
        int a3 = ao + 3 * d;
        int c = 0;
        for (; c + 2 * L <= cols; c += 2 * L) {
            FloatVector s00 = FloatVector.zero(S), s01 = s00, s10 = s00, s11 = s00, s20 = s00, s21 = s00, s30 = s00,
                    s31 = s00;
            for (int t = 0, o = j0 + c; t < d; t++, o += m) {
                FloatVector b0 = FloatVector.fromArray(S, bT, o);
                FloatVector b1 = FloatVector.fromArray(S, bT, o + L);
                FloatVector x = FloatVector.broadcast(S, a[ao + t]);
                s00 = b0.fma(x, s00);
                s01 = b1.fma(x, s01);
                x = FloatVector.broadcast(S, a[a1 + t]);
                s10 = b0.fma(x, s10);
                s11 = b1.fma(x, s11);
                x = FloatVector.broadcast(S, a[a2 + t]);
                s20 = b0.fma(x, s20);
                s21 = b1.fma(x, s21);
                x = FloatVector.broadcast(S, a[a3 + t]);
                s30 = b0.fma(x, s30);
                s31 = b1.fma(x, s31);
            }
            s00.mul(scale).intoArray(s, so + c);
            s01.mul(scale).intoArray(s, so + c + L);
            s10.mul(scale).intoArray(s, so + KEYS + c);
            s11.mul(scale).intoArray(s, so + KEYS + c + L);
            s20.mul(scale).intoArray(s, so + 2 * KEYS + c);
            s21.mul(scale).intoArray(s, so + 2 * KEYS + c + L);
            s30.mul(scale).intoArray(s, so + 3 * KEYS + c);
            s31.mul(scale).intoArray(s, so + 3 * KEYS + c + L);
        }
        for (; c + L <= cols; c += L) {
            FloatVector s0 = FloatVector.zero(S), s1 = s0, s2 = s0, s3 = s0;
            for (int t = 0, o = j0 + c; t < d; t++, o += m) {
                FloatVector b = FloatVector.fromArray(S, bT, o);
                s0 = b.fma(FloatVector.broadcast(S, a[ao + t]), s0);
                s1 = b.fma(FloatVector.broadcast(S, a[a1 + t]), s1);
                s2 = b.fma(FloatVector.broadcast(S, a[a2 + t]), s2);
                s3 = b.fma(FloatVector.broadcast(S, a[a3 + t]), s3);
            }
            s0.mul(scale).intoArray(s, so + c);
            s1.mul(scale).intoArray(s, so + KEYS + c);
            s2.mul(scale).intoArray(s, so + 2 * KEYS + c);
            s3.mul(scale).intoArray(s, so + 3 * KEYS + c);
        }
        for (int r = 0; r < 4; r++) {
            scalarProducts(a, ao + r * d, bT, m, j0, c, cols, d, scale, s, so + r * KEYS);
        }
    }

    private static void products1(float[] a, int ao, float[] bT, int m, int j0, int cols, int d, float scale,
                                  float[] s, int so) {
        int c = 0;
        for (; c + L <= cols; c += L) {
            FloatVector acc = FloatVector.zero(S);
            for (int t = 0, o = j0 + c; t < d; t++, o += m) {
                acc = FloatVector.fromArray(S, bT, o).fma(FloatVector.broadcast(S, a[ao + t]), acc);
            }
            acc.mul(scale).intoArray(s, so + c);
        }
        scalarProducts(a, ao, bT, m, j0, c, cols, d, scale, s, so);
    }

    /** The columns {@code [from, cols)} of one row of {@link #products}, scalar (the tail after full vectors). */
    private static void scalarProducts(float[] a, int ao, float[] bT, int m, int j0, int from, int cols, int d,
                                       float scale, float[] s, int so) {
        for (int c = from; c < cols; c++) {
            float acc = 0;
            for (int t = 0; t < d; t++) {
                acc = Math.fma(bT[t * m + j0 + c], a[ao + t], acc);
            }
            s[so + c] = acc * scale;
        }
    }

    /**
     * {@code acc[((r·d) + t)·L + lane] += Σ_c p[r·KEYS + c] · bT[t·m + j0 + c]} (lanes of c): the products of a block
     * of probability (or score-gradient) rows with a tile of transposed values (or keys), kept as per-lane partial
     * sums; {@link #laneSum} finishes them.
     */
    private static void accumulateDots(float[] p, int rows, float[] bT, int m, int j0, int cols, int d, float[] acc) {
        int bound = S.loopBound(cols);
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            int p0 = r * KEYS;
            for (int t = 0; t < d; t++) {
                int o0 = (r * d + t) * L;
                int o1 = o0 + d * L;
                int o2 = o1 + d * L;
                int o3 = o2 + d * L;
                FloatVector c0 = FloatVector.fromArray(S, acc, o0);
                FloatVector c1 = FloatVector.fromArray(S, acc, o1);
                FloatVector c2 = FloatVector.fromArray(S, acc, o2);
                FloatVector c3 = FloatVector.fromArray(S, acc, o3);
                int bo = t * m + j0;
                for (int c = 0; c < bound; c += L) {
                    FloatVector b = FloatVector.fromArray(S, bT, bo + c);
                    c0 = FloatVector.fromArray(S, p, p0 + c).fma(b, c0);
                    c1 = FloatVector.fromArray(S, p, p0 + KEYS + c).fma(b, c1);
                    c2 = FloatVector.fromArray(S, p, p0 + 2 * KEYS + c).fma(b, c2);
                    c3 = FloatVector.fromArray(S, p, p0 + 3 * KEYS + c).fma(b, c3);
                }
                c0.intoArray(acc, o0);
                c1.intoArray(acc, o1);
                c2.intoArray(acc, o2);
                c3.intoArray(acc, o3);
                for (int c = bound; c < cols; c++) {
                    float b = bT[bo + c];
                    acc[o0] = Math.fma(p[p0 + c], b, acc[o0]);
                    acc[o1] = Math.fma(p[p0 + KEYS + c], b, acc[o1]);
                    acc[o2] = Math.fma(p[p0 + 2 * KEYS + c], b, acc[o2]);
                    acc[o3] = Math.fma(p[p0 + 3 * KEYS + c], b, acc[o3]);
                }
            }
        }
        for (; r < rows; r++) {
            int p0 = r * KEYS;
            for (int t = 0; t < d; t++) {
                int o0 = (r * d + t) * L;
                FloatVector c0 = FloatVector.fromArray(S, acc, o0);
                int bo = t * m + j0;
                for (int c = 0; c < bound; c += L) {
                    c0 = FloatVector.fromArray(S, p, p0 + c).fma(FloatVector.fromArray(S, bT, bo + c), c0);
                }
                c0.intoArray(acc, o0);
                for (int c = bound; c < cols; c++) {
                    acc[o0] = Math.fma(p[p0 + c], bT[bo + c], acc[o0]);
                }
            }
        }
    }

    /** The {@code L} partial sums at {@code acc[o..o+L)} added first to last. */
    private static float laneSum(float[] acc, int o) {
        float s = 0;
        for (int l = 0; l < L; l++) {
            s += acc[o + l];
        }
        return s;
    }

    /**
     * {@code gT[t·m + j0 + c] += Σ_r p[r·KEYS + c] · a[(i0 + r)·d + t]}: a tile of transposed key (or value) gradients
     * gains the block's score gradients (or probabilities) times its query (or output-gradient) rows.
     */
    private static void accumulateOuter(float[] p, int rows, float[] a, int i0, int d, float[] gT, int m, int j0,
                                        int cols) {
        int bound = S.loopBound(cols);
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            int p0 = r * KEYS;
            int ao = (i0 + r) * d;
            for (int t = 0; t < d; t++) {
                float x0 = a[ao + t];
                float x1 = a[ao + d + t];
                float x2 = a[ao + 2 * d + t];
                float x3 = a[ao + 3 * d + t];
                FloatVector b0 = FloatVector.broadcast(S, x0);
                FloatVector b1 = FloatVector.broadcast(S, x1);
                FloatVector b2 = FloatVector.broadcast(S, x2);
                FloatVector b3 = FloatVector.broadcast(S, x3);
                int go = t * m + j0;
                for (int c = 0; c < bound; c += L) {
                    FloatVector g = FloatVector.fromArray(S, gT, go + c);
                    g = FloatVector.fromArray(S, p, p0 + c).fma(b0, g);
                    g = FloatVector.fromArray(S, p, p0 + KEYS + c).fma(b1, g);
                    g = FloatVector.fromArray(S, p, p0 + 2 * KEYS + c).fma(b2, g);
                    g = FloatVector.fromArray(S, p, p0 + 3 * KEYS + c).fma(b3, g);
                    g.intoArray(gT, go + c);
                }
                for (int c = bound; c < cols; c++) {
                    float g = gT[go + c];
                    g = Math.fma(p[p0 + c], x0, g);
                    g = Math.fma(p[p0 + KEYS + c], x1, g);
                    g = Math.fma(p[p0 + 2 * KEYS + c], x2, g);
                    g = Math.fma(p[p0 + 3 * KEYS + c], x3, g);
                    gT[go + c] = g;
                }
            }
        }
        for (; r < rows; r++) {
            int p0 = r * KEYS;
            int ao = (i0 + r) * d;
            for (int t = 0; t < d; t++) {
                float x = a[ao + t];
                FloatVector b = FloatVector.broadcast(S, x);
                int go = t * m + j0;
                for (int c = 0; c < bound; c += L) {
                    FloatVector.fromArray(S, p, p0 + c).fma(b, FloatVector.fromArray(S, gT, go + c)).intoArray(gT, go + c);
                }
                for (int c = bound; c < cols; c++) {
                    gT[go + c] = Math.fma(p[p0 + c], x, gT[go + c]);
                }
            }
        }
    }

    /** The largest of {@code s[o, o + cols)}. */
    private static float max(float[] s, int o, int cols) {
        int bound = S.loopBound(cols);
        FloatVector vmax = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        int c = 0;
        for (; c < bound; c += L) {
            vmax = vmax.max(FloatVector.fromArray(S, s, o + c));
        }
        float mx = vmax.reduceLanes(VectorOperators.MAX); // exact in any order
        for (; c < cols; c++) {
            mx = Math.max(mx, s[o + c]);
        }
        return mx;
    }

    /** {@code s[o, o + cols) ← exp(s − shift)}; returns their sum (lanes first to last, then the tail). */
    private static float expShifted(float[] s, int o, int cols, float shift) {
        int bound = S.loopBound(cols);
        FloatVector vsum = FloatVector.zero(S);
        int c = 0;
        for (; c < bound; c += L) {
            FloatVector e = VectorRows.exp(FloatVector.fromArray(S, s, o + c).sub(shift));
            e.intoArray(s, o + c);
            vsum = vsum.add(e);
        }
        float sum = 0;
        for (int l = 0; l < L; l++) {
            sum += vsum.lane(l);
        }
        for (; c < cols; c++) {
            s[o + c] = FastMath.exp(s[o + c] - shift);
            sum += s[o + c];
        }
        return sum;
    }

    /** As {@link Attention#forward}, on split heads {@code [BH, n, d]} / {@code [BH, m, d]}. */
    static void forward(FloatBuffer q, FloatBuffer k, FloatBuffer v, FloatBuffer out, float[] lse, int bh,
                        int n, int m, int d, float scale) {
        Buffers.parallel(bh, h -> {
            float[] qh = rows(q, h * n * d, n * d);
            float[] kT = transposed(k, h * m * d, m, d);
            float[] vT = transposed(v, h * m * d, m, d);
            float[] s = new float[ROWS * KEYS];
            float[] acc = new float[ROWS * d * L];
            float[] rowMax = new float[ROWS];
            float[] rowSum = new float[ROWS];
            float[] o = new float[d];
            for (int i0 = 0; i0 < n; i0 += ROWS) {
                int rows = Math.min(ROWS, n - i0);
                Arrays.fill(rowMax, Float.NEGATIVE_INFINITY);
                Arrays.fill(rowSum, 0f);
                Arrays.fill(acc, 0f);
                for (int j0 = 0; j0 < m; j0 += KEYS) {
                    int cols = Math.min(KEYS, m - j0);
                    products(qh, i0, rows, kT, m, j0, cols, d, scale, s);
                    for (int r = 0; r < rows; r++) {
                        float newMax = Math.max(rowMax[r], max(s, r * KEYS, cols));
                        float alpha = FastMath.exp(rowMax[r] - newMax); // 0 on the first tile (−∞)
                        rowSum[r] = rowSum[r] * alpha + expShifted(s, r * KEYS, cols, newMax);
                        rowMax[r] = newMax;
                        if (alpha != 1f) {
                            scaleRow(acc, r * d * L, d * L, alpha);
                        }
                    }
                    accumulateDots(s, rows, vT, m, j0, cols, d, acc);
                }
                for (int r = 0; r < rows; r++) {
                    float inv = 1 / rowSum[r];
                    for (int t = 0; t < d; t++) {
                        o[t] = laneSum(acc, (r * d + t) * L) * inv;
                    }
                    out.put((h * n + i0 + r) * d, o);
                    lse[h * n + i0 + r] = rowMax[r] + (float) Math.log(rowSum[r]);
                }
            }
        });
    }

    private static void scaleRow(float[] a, int o, int len, float f) {
        for (int i = o; i < o + len; i += L) { // len is a multiple of L
            FloatVector.fromArray(S, a, i).mul(f).intoArray(a, i);
        }
    }

    /**
     * As {@link Attention#backward}, given the forward's output {@code out} (split heads): writes {@code dq},
     * {@code dk}, {@code dv}.
     */
    static void backward(FloatBuffer q, FloatBuffer k, FloatBuffer v, FloatBuffer out, float[] lse, FloatBuffer dOut,
                         FloatBuffer dq, FloatBuffer dk, FloatBuffer dv, int bh, int n, int m, int d, float scale) {
        Buffers.parallel(bh, h -> {
            float[] qh = rows(q, h * n * d, n * d);
            float[] doh = rows(dOut, h * n * d, n * d);
            float[] oh = rows(out, h * n * d, n * d);
            float[] kT = transposed(k, h * m * d, m, d);
            float[] vT = transposed(v, h * m * d, m, d);
            float[] dkT = new float[d * m];
            float[] dvT = new float[d * m];
            float[] p = new float[ROWS * KEYS];
            float[] ds = new float[ROWS * KEYS];
            float[] dqAcc = new float[ROWS * d * L];
            float[] rowD = new float[ROWS];
            float[] g = new float[d];
            for (int i0 = 0; i0 < n; i0 += ROWS) {
                int rows = Math.min(ROWS, n - i0);
                for (int r = 0; r < rows; r++) {
                    float dot = 0;
                    for (int t = 0, o = (i0 + r) * d; t < d; t++) {
                        dot += doh[o + t] * oh[o + t];
                    }
                    rowD[r] = dot;
                }
                Arrays.fill(dqAcc, 0f);
                for (int j0 = 0; j0 < m; j0 += KEYS) {
                    int cols = Math.min(KEYS, m - j0);
                    products(qh, i0, rows, kT, m, j0, cols, d, scale, p);
                    products(doh, i0, rows, vT, m, j0, cols, d, 1f, ds); // dP = dO · Vᵀ
                    for (int r = 0; r < rows; r++) { // p ← the forward's probabilities, ds ← scale · P ∘ (dP − D)
                        probabilitiesAndScoreGradient(p, ds, r * KEYS, cols, lse[h * n + i0 + r], rowD[r], scale);
                    }
                    accumulateOuter(p, rows, doh, i0, d, dvT, m, j0, cols); // dV += Pᵀ · dO
                    accumulateOuter(ds, rows, qh, i0, d, dkT, m, j0, cols); // dK += dSᵀ · Q
                    accumulateDots(ds, rows, kT, m, j0, cols, d, dqAcc); // dQ += dS · K
                }
                for (int r = 0; r < rows; r++) {
                    for (int t = 0; t < d; t++) {
                        g[t] = laneSum(dqAcc, (r * d + t) * L);
                    }
                    dq.put((h * n + i0 + r) * d, g);
                }
            }
            float[] dkRows = new float[m * d];
            float[] dvRows = new float[m * d];
            for (int j = 0; j < m; j++) {
                for (int t = 0; t < d; t++) {
                    dkRows[j * d + t] = dkT[t * m + j];
                    dvRows[j * d + t] = dvT[t * m + j];
                }
            }
            dk.put(h * m * d, dkRows);
            dv.put(h * m * d, dvRows);
        });
    }

    /** {@code p[o, o + cols) ← exp(p − lse)}, then {@code ds[o, o + cols) ← scale · p ∘ (ds − rowD)}, in one pass. */
    private static void probabilitiesAndScoreGradient(float[] p, float[] ds, int o, int cols, float lse, float rowD,
                                                      float scale) {
        int bound = S.loopBound(cols);
        int c = 0;
        for (; c < bound; c += L) {
            FloatVector pv = VectorRows.exp(FloatVector.fromArray(S, p, o + c).sub(lse));
            pv.intoArray(p, o + c);
            FloatVector.fromArray(S, ds, o + c).sub(rowD).mul(pv).mul(scale).intoArray(ds, o + c);
        }
        for (; c < cols; c++) {
            p[o + c] = FastMath.exp(p[o + c] - lse);
            ds[o + c] = (ds[o + c] - rowD) * p[o + c] * scale;
        }
    }
}
