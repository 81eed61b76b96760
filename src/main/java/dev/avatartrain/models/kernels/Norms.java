package dev.avatartrain.models.kernels;

import java.nio.FloatBuffer;

/**
 * GroupNorm followed by an activation, and LayerNorm over the last axis: forward and backward in two passes over
 * each group or row (statistics accumulated in double, biased variance, eps inside the square root, as PyTorch).
 * The backward passes recompute the normalised values from the input and the saved mean and 1/std rather than
 * keeping another activation-sized array. Each group or row is copied into a Java array once; the element-wise
 * passes (affine + activation, the activation's derivative, the input gradient) run on the vector API
 * ({@link VectorRows}) when the module is present.
 */
final class Norms {
    private Norms() {
    }

    /** Mean and {@code 1/sqrt(var + eps)} of {@code x[offset, offset + n)} into {@code mean[at]}, {@code rstd[at]}. */
    private static void moments(float[] x, int offset, int n, double eps, float[] mean, float[] rstd, int at) {
        double sum = 0;
        for (int i = offset; i < offset + n; i++) {
            sum += x[i];
        }
        double mu = sum / n;
        double sq = 0;
        for (int i = offset; i < offset + n; i++) {
            double dv = x[i] - mu;
            sq += dv * dv;
        }
        mean[at] = (float) mu;
        rstd[at] = (float) (1 / Math.sqrt(sq / n + eps));
    }

    /** {@code y[o, o + n) = act((x − c) · a + b)}; {@code y} may be {@code x}. */
    private static void affine(Activation act, float[] x, float[] y, int o, int n, float c, float a, float b) {
        if (Rows.VECTOR) {
            VectorRows.applyAffine(act, x, y, o, n, c, a, b);
        } else {
            for (int i = o; i < o + n; i++) {
                y[i] = act.apply((x[i] - c) * a + b);
            }
        }
    }

    /**
     * {@code y = act(gamma_c · (x - mean_bg) · rstd_bg + beta_c)} on {@code x [B, C, S]}, groups of {@code C/G}
     * consecutive channels. Writes {@code mean} and {@code rstd}, each {@code [B·G]}.
     */
    static void groupNormForward(FloatBuffer x, FloatBuffer y, float[] gamma, float[] beta, int b, int c, int s,
                                 int groups, double eps, Activation act, float[] mean, float[] rstd) {
        int cg = c / groups;
        int n = cg * s;
        Buffers.parallel(b * groups, bg -> {
            int base = bg * n;
            float[] a = new float[n];
            x.get(base, a);
            moments(a, 0, n, eps, mean, rstd, bg);
            float m = mean[bg];
            float r = rstd[bg];
            int c0 = (bg % groups) * cg;
            for (int ci = 0; ci < cg; ci++) {
                affine(act, a, a, ci * s, s, m, gamma[c0 + ci] * r, beta[c0 + ci]);
            }
            y.put(base, a);
        });
    }

    /**
     * Backward of {@link #groupNormForward}: writes {@code dx} and the per-(sample, channel) sums {@code dGamma},
     * {@code dBeta} ({@code [B·C]}; the caller sums over samples). {@code dx} may be {@code dy} itself.
     */
    static void groupNormBackward(FloatBuffer x, FloatBuffer dy, FloatBuffer dx, float[] gamma, float[] beta, int b,
                                  int c, int s, int groups, Activation act, float[] mean, float[] rstd,
                                  double[] dGamma, double[] dBeta) {
        int cg = c / groups;
        int n = cg * s;
        Buffers.parallel(b * groups, bg -> {
            int base = bg * n;
            int c0 = (bg % groups) * cg;
            float m = mean[bg];
            float r = rstd[bg];
            float[] xa = new float[n];
            float[] da = new float[n];
            x.get(base, xa);
            dy.get(base, da);
            double m1 = 0;
            double m2 = 0;
            double[] sums = new double[2];
            for (int ci = 0; ci < cg; ci++) {
                float g = gamma[c0 + ci];
                int o = ci * s;
                channelBackward(act, xa, da, o, s, m, r, g, beta[c0 + ci], sums); // da ← dy · act'(·), sums
                int bc = (bg / groups) * c + c0 + ci;
                dGamma[bc] = sums[1];
                dBeta[bc] = sums[0];
                m1 += g * sums[0];
                m2 += g * sums[1];
            }
            float mean1 = (float) (m1 / n);
            float mean2 = (float) (m2 / n);
            for (int ci = 0; ci < cg; ci++) {
                inputGradient(xa, da, ci * s, s, m, r, gamma[c0 + ci] * r, mean1, mean2);
            }
            dx.put(base, da);
        });
    }

    /**
     * One channel of the GroupNorm backward: {@code da ← da · act'(xhat · g + be)}, {@code xhat = (x − m) · r}, in
     * place; {@code sums = {Σ da, Σ da · xhat}}.
     */
    private static void channelBackward(Activation act, float[] x, float[] da, int o, int s, float m, float r, float g,
                                        float be, double[] sums) {
        if (Rows.VECTOR) {
            VectorRows.normChannelBackward(act, x, da, o, s, m, r, g, be, sums);
            return;
        }
        double sumDa = 0;
        double sumDaXhat = 0;
        for (int i = o; i < o + s; i++) {
            float xhat = (x[i] - m) * r;
            float d = act == Activation.IDENTITY ? da[i] : da[i] * act.derivative(xhat * g + be);
            da[i] = d;
            sumDa += d;
            sumDaXhat += d * xhat;
        }
        sums[0] = sumDa;
        sums[1] = sumDaXhat;
    }

    /** {@code da[o, o + s) ← gr · da − r · (mean1 + xhat · mean2)}, {@code xhat = (x − m) · r}. */
    private static void inputGradient(float[] x, float[] da, int o, int s, float m, float r, float gr, float mean1,
                                      float mean2) {
        if (Rows.VECTOR) {
            VectorRows.normInputGradient(x, da, o, s, m, r, gr, mean1, mean2);
            return;
        }
        for (int i = o; i < o + s; i++) {
            float xhat = (x[i] - m) * r;
            da[i] = gr * da[i] - r * (mean1 + xhat * mean2);
        }
    }

    /** {@code y = gamma · (x - mean) · rstd + beta} over each row of {@code x [rows, d]}; writes mean, rstd. */
    static void layerNormForward(FloatBuffer x, FloatBuffer y, float[] gamma, float[] beta, int rows, int d,
                                 double eps, float[] mean, float[] rstd) {
        int chunks = Buffers.chunks(rows);
        Buffers.parallel(chunks, ch -> {
            int r0 = Buffers.chunkStart(ch, chunks, rows);
            int r1 = Buffers.chunkStart(ch + 1, chunks, rows);
            float[] a = new float[(r1 - r0) * d];
            x.get(r0 * d, a);
            for (int row = r0; row < r1; row++) {
                int o = (row - r0) * d;
                moments(a, o, d, eps, mean, rstd, row);
                float m = mean[row];
                float r = rstd[row];
                for (int j = 0; j < d; j++) {
                    a[o + j] = (a[o + j] - m) * r * gamma[j] + beta[j];
                }
            }
            y.put(r0 * d, a);
        });
    }

    /** Backward of {@link #layerNormForward}: writes {@code dx}, returns {dGamma, dBeta} summed over rows. */
    static double[][] layerNormBackward(FloatBuffer x, FloatBuffer dy, FloatBuffer dx, float[] gamma, int rows, int d,
                                        float[] mean, float[] rstd) {
        int chunks = Buffers.chunks(rows);
        double[][] dGamma = new double[chunks][d];
        double[][] dBeta = new double[chunks][d];
        Buffers.parallel(chunks, ch -> {
            double[] dg = dGamma[ch];
            double[] db = dBeta[ch];
            int r0 = Buffers.chunkStart(ch, chunks, rows);
            int r1 = Buffers.chunkStart(ch + 1, chunks, rows);
            float[] xa = new float[(r1 - r0) * d];
            float[] ga = new float[(r1 - r0) * d];
            x.get(r0 * d, xa);
            dy.get(r0 * d, ga);
            for (int row = r0; row < r1; row++) {
                int o = (row - r0) * d;
                float m = mean[row];
                float r = rstd[row];
                double m1 = 0;
                double m2 = 0;
                for (int j = 0; j < d; j++) {
                    float xhat = (xa[o + j] - m) * r;
                    float g = ga[o + j];
                    dg[j] += g * xhat;
                    db[j] += g;
                    float dxhat = g * gamma[j];
                    m1 += dxhat;
                    m2 += dxhat * xhat;
                }
                float mean1 = (float) (m1 / d);
                float mean2 = (float) (m2 / d);
                for (int j = 0; j < d; j++) {
                    float xhat = (xa[o + j] - m) * r;
                    ga[o + j] = r * (ga[o + j] * gamma[j] - mean1 - xhat * mean2);
                }
            }
            dx.put(r0 * d, ga);
        });
        for (int ch = 1; ch < chunks; ch++) {
            for (int j = 0; j < d; j++) {
                dGamma[0][j] += dGamma[ch][j];
                dBeta[0][j] += dBeta[ch][j];
            }
        }
        return new double[][] {dGamma[0], dBeta[0]};
    }
}
