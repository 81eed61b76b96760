package dev.avatartrain.models.kernels;

import java.nio.FloatBuffer;
import java.util.Arrays;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Attention for small head sizes (the UNet's 4–8 channel heads), one (sample, head) per task and one query row at
 * a time, with nothing larger than a row materialised: the row's scores are {@code d} vector multiply-adds over the
 * keys (stored transposed, {@code [d][m]}), the softmax runs on the row, and each output channel is a dot product
 * with the transposed values. With a head dimension this small, the per-head GEMMs of {@link Attention} are
 * memory-bound passes over an {@code [n, m]} matrix (five of them in the backward pass); here the row stays in L1.
 * Same arithmetic contract as {@link VectorRows}: lane-wise IEEE operations and fixed-order lane sums, so results do
 * not depend on JIT state. Loaded only when the vector module is present.
 */
final class VectorAttention {
    private VectorAttention() {
    }

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    /** {@code out[t][j] = in[j][t]} for one head's {@code [m, d]} block starting at {@code offset}. */
    private static float[][] transposed(FloatBuffer in, int offset, int m, int d) {
        float[][] out = new float[d][m];
        for (int j = 0; j < m; j++) {
            for (int t = 0; t < d; t++) {
                out[t][j] = in.get(offset + j * d + t);
            }
        }
        return out;
    }

    /** {@code s[0..m) = scale · Σ_t q[t] · kT[t][·]}. */
    private static void scores(float[] s, float[] q, float[][] kT, int m, float scale) {
        int bound = S.loopBound(m);
        int d = q.length;
        int j = 0;
        for (; j < bound; j += S.length()) {
            FloatVector acc = FloatVector.fromArray(S, kT[0], j).mul(q[0]);
            for (int t = 1; t < d; t++) {
                acc = FloatVector.fromArray(S, kT[t], j).mul(q[t]).add(acc);
            }
            acc.mul(scale).intoArray(s, j);
        }
        for (; j < m; j++) {
            float acc = kT[0][j] * q[0];
            for (int t = 1; t < d; t++) {
                acc = kT[t][j] * q[t] + acc;
            }
            s[j] = acc * scale;
        }
    }

    /** {@code Σ_j a[j] · b[j]}, vector lanes summed first to last. */
    private static float dot(float[] a, float[] b, int m) {
        int bound = S.loopBound(m);
        int j = 0;
        FloatVector acc = FloatVector.zero(S);
        for (; j < bound; j += S.length()) {
            acc = FloatVector.fromArray(S, a, j).mul(FloatVector.fromArray(S, b, j)).add(acc);
        }
        float sum = 0;
        for (int i = 0; i < S.length(); i++) {
            sum += acc.lane(i);
        }
        for (; j < m; j++) {
            sum += a[j] * b[j];
        }
        return sum;
    }

    /** {@code acc[0..m) += a · x[0..m)}. */
    private static void axpy(float[] acc, float a, float[] x, int m) {
        int bound = S.loopBound(m);
        int j = 0;
        for (; j < bound; j += S.length()) {
            FloatVector.fromArray(S, x, j).mul(a).add(FloatVector.fromArray(S, acc, j)).intoArray(acc, j);
        }
        for (; j < m; j++) {
            acc[j] = x[j] * a + acc[j];
        }
    }

    /** As {@link Attention#forward}, on split heads {@code [BH, n, d]} / {@code [BH, m, d]}. */
    static void forward(FloatBuffer q, FloatBuffer k, FloatBuffer v, FloatBuffer out, float[] lse, int bh,
                                  int n, int m, int d, float scale) {
        Buffers.parallel(bh, h -> {
            float[][] kT = transposed(k, h * m * d, m, d);
            float[][] vT = transposed(v, h * m * d, m, d);
            float[] s = new float[m];
            float[] qi = new float[d];
            for (int i = 0; i < n; i++) {
                int row = (h * n + i) * d;
                q.get(row, qi);
                scores(s, qi, kT, m, scale);
                lse[h * n + i] = Rows.softmax(s, m);
                for (int t = 0; t < d; t++) {
                    out.put(row + t, dot(s, vT[t], m));
                }
            }
        });
    }

    /** As {@link Attention#backward}: writes {@code dq}, {@code dk}, {@code dv} (split heads). */
    static void backward(FloatBuffer q, FloatBuffer k, FloatBuffer v, float[] lse, FloatBuffer dOut, FloatBuffer dq,
                         FloatBuffer dk, FloatBuffer dv, int bh, int n, int m, int d, float scale) {
        Buffers.parallel(bh, h -> {
            float[][] kT = transposed(k, h * m * d, m, d);
            float[][] vT = transposed(v, h * m * d, m, d);
            float[][] dkT = new float[d][m];
            float[][] dvT = new float[d][m];
            float[] p = new float[m];
            float[] dp = new float[m];
            float[] qi = new float[d];
            float[] doi = new float[d];
            for (int i = 0; i < n; i++) {
                int row = (h * n + i) * d;
                q.get(row, qi);
                dOut.get(row, doi);
                scores(p, qi, kT, m, scale);
                Rows.expShifted(p, m, lse[h * n + i]);
                Arrays.fill(dp, 0f);
                for (int t = 0; t < d; t++) {
                    axpy(dp, doi[t], vT[t], m); // dP = dO · Vᵀ
                    axpy(dvT[t], doi[t], p, m); // dV += Pᵀ · dO
                }
                Rows.softmaxBackward(p, dp, m, scale); // dp ← scale · dS
                for (int t = 0; t < d; t++) {
                    dq.put(row + t, dot(dp, kT[t], m));
                    axpy(dkT[t], qi[t], dp, m); // dK += dSᵀ · Q
                }
            }
            for (int j = 0; j < m; j++) {
                for (int t = 0; t < d; t++) {
                    dk.put((h * m + j) * d + t, dkT[t][j]);
                    dv.put((h * m + j) * d + t, dvT[t][j]);
                }
            }
        });
    }
}
