package dev.avatartrain.models.kernels;

import java.nio.FloatBuffer;

/**
 * GroupNorm followed by an activation, and LayerNorm over the last axis: forward and backward in two passes over
 * each group or row (statistics accumulated in double, biased variance, eps inside the square root, as PyTorch).
 * The backward passes recompute the normalised values from the input and the saved mean and 1/std rather than
 * keeping another activation-sized array.
 */
final class Norms {
    private Norms() {
    }

    /** Mean and {@code 1/sqrt(var + eps)} of {@code x[offset, offset + n)} into {@code mean[at]}, {@code rstd[at]}. */
    private static void moments(FloatBuffer x, int offset, int n, double eps, float[] mean, float[] rstd, int at) {
        double sum = 0;
        for (int i = offset; i < offset + n; i++) {
            sum += x.get(i);
        }
        double mu = sum / n;
        double sq = 0;
        for (int i = offset; i < offset + n; i++) {
            double dv = x.get(i) - mu;
            sq += dv * dv;
        }
        mean[at] = (float) mu;
        rstd[at] = (float) (1 / Math.sqrt(sq / n + eps));
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
            moments(x, base, n, eps, mean, rstd, bg);
            float m = mean[bg];
            float r = rstd[bg];
            int c0 = (bg % groups) * cg;
            for (int ci = 0; ci < cg; ci++) {
                float ga = gamma[c0 + ci] * r;
                float be = beta[c0 + ci];
                int o = base + ci * s;
                if (act == Activation.IDENTITY) {
                    for (int i = o; i < o + s; i++) {
                        y.put(i, (x.get(i) - m) * ga + be);
                    }
                } else {
                    for (int i = o; i < o + s; i++) {
                        y.put(i, act.apply((x.get(i) - m) * ga + be));
                    }
                }
            }
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
            double m1 = 0;
            double m2 = 0;
            for (int ci = 0; ci < cg; ci++) {
                float g = gamma[c0 + ci];
                float be = beta[c0 + ci];
                double sumDa = 0;
                double sumDaXhat = 0;
                int o = base + ci * s;
                for (int i = o; i < o + s; i++) {
                    float xhat = (x.get(i) - m) * r;
                    float da = act == Activation.IDENTITY ? dy.get(i) : dy.get(i) * act.derivative(xhat * g + be);
                    dx.put(i, da); // kept for the second pass
                    sumDa += da;
                    sumDaXhat += da * xhat;
                }
                int bc = (bg / groups) * c + c0 + ci;
                dGamma[bc] = sumDaXhat;
                dBeta[bc] = sumDa;
                m1 += g * sumDa;
                m2 += g * sumDaXhat;
            }
            float mean1 = (float) (m1 / n);
            float mean2 = (float) (m2 / n);
            for (int ci = 0; ci < cg; ci++) {
                float gr = gamma[c0 + ci] * r;
                int o = base + ci * s;
                for (int i = o; i < o + s; i++) {
                    float xhat = (x.get(i) - m) * r;
                    dx.put(i, gr * dx.get(i) - r * (mean1 + xhat * mean2));
                }
            }
        });
    }

    /** {@code y = gamma · (x - mean) · rstd + beta} over each row of {@code x [rows, d]}; writes mean, rstd. */
    static void layerNormForward(FloatBuffer x, FloatBuffer y, float[] gamma, float[] beta, int rows, int d,
                                 double eps, float[] mean, float[] rstd) {
        int chunks = Buffers.chunks(rows);
        Buffers.parallel(chunks, ch -> {
            for (int row = Buffers.chunkStart(ch, chunks, rows); row < Buffers.chunkStart(ch + 1, chunks, rows); row++) {
                int o = row * d;
                moments(x, o, d, eps, mean, rstd, row);
                float m = mean[row];
                float r = rstd[row];
                for (int j = 0; j < d; j++) {
                    y.put(o + j, (x.get(o + j) - m) * r * gamma[j] + beta[j]);
                }
            }
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
            for (int row = Buffers.chunkStart(ch, chunks, rows); row < Buffers.chunkStart(ch + 1, chunks, rows); row++) {
                int o = row * d;
                float m = mean[row];
                float r = rstd[row];
                double m1 = 0;
                double m2 = 0;
                for (int j = 0; j < d; j++) {
                    float xhat = (x.get(o + j) - m) * r;
                    float g = dy.get(o + j);
                    dg[j] += g * xhat;
                    db[j] += g;
                    float dxhat = g * gamma[j];
                    m1 += dxhat;
                    m2 += dxhat * xhat;
                }
                float mean1 = (float) (m1 / d);
                float mean2 = (float) (m2 / d);
                for (int j = 0; j < d; j++) {
                    float xhat = (x.get(o + j) - m) * r;
                    dx.put(o + j, r * (dy.get(o + j) * gamma[j] - mean1 - xhat * mean2));
                }
            }
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
