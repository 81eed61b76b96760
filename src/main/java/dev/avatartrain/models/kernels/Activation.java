package dev.avatartrain.models.kernels;

import java.nio.FloatBuffer;

/**
 * Element-wise activations with their derivatives, as PyTorch computes them (GELU is the exact erf form), and the
 * kernels that apply them to whole buffers: on the vector API ({@link VectorRows}: erf, exp and the divisions lane
 * by lane) when the module is present, else element by element.
 */
public enum Activation {
    IDENTITY, SILU, GELU, RELU;

    private static final double SQRT_HALF = Math.sqrt(0.5);
    private static final double INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

    /** The activation named as in diffusers' {@code act_fn} ("silu"/"swish", "gelu", "relu"). */
    public static Activation of(String name) {
        return switch (name) {
            case "silu", "swish" -> SILU;
            case "gelu" -> GELU;
            case "relu" -> RELU;
            default -> throw new IllegalArgumentException("unsupported activation: " + name);
        };
    }

    public float apply(float a) {
        return switch (this) {
            case IDENTITY -> a;
            case SILU -> a / (1 + FastMath.exp(-a));
            case GELU -> (float) (0.5 * a * (1 + erf(a * SQRT_HALF)));
            case RELU -> a > 0 ? a : 0f;
        };
    }

    /** d apply / da at {@code a}. */
    public float derivative(float a) {
        return switch (this) {
            case IDENTITY -> 1f;
            case SILU -> {
                float s = 1 / (1 + FastMath.exp(-a));
                yield s * (1 + a * (1 - s));
            }
            case GELU -> (float) (0.5 * (1 + erf(a * SQRT_HALF)) + a * FastMath.exp(-0.5f * a * a) * INV_SQRT_2PI);
            case RELU -> a > 0 ? 1f : 0f;
        };
    }

    /**
     * The error function to ≈ 1.2e-7 absolute (Numerical Recipes' Chebyshev fit of erfc), well inside float32's
     * resolution of GELU's output. The JDK has no erf.
     */
    static double erf(double x) {
        double z = Math.abs(x);
        double t = 1 / (1 + 0.5 * z);
        double r = t * FastMath.exp((float) (-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
                + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
                + t * (-0.82215223 + t * 0.17087277))))))))));
        return x >= 0 ? 1 - r : r - 1;
    }

    /** Elements per parallel block of the buffer kernels (two 32 KB scratch arrays per block). */
    private static final int BLOCK = 8192;

    /** {@code y[0, n) = act(x[0, n))}. */
    static void forward(Activation act, FloatBuffer x, FloatBuffer y, int n) {
        blocks(n, (i0, len) -> {
            float[] a = new float[len];
            x.get(i0, a);
            if (Rows.VECTOR) {
                VectorRows.applyAffine(act, a, a, 0, len, 0f, 1f, 0f);
            } else {
                for (int i = 0; i < len; i++) {
                    a[i] = act.apply(a[i]);
                }
            }
            y.put(i0, a);
        });
    }

    /** {@code dx[0, n) = dy · act'(x)}. {@code dx} may be {@code dy}. */
    static void backward(Activation act, FloatBuffer x, FloatBuffer dy, FloatBuffer dx, int n) {
        blocks(n, (i0, len) -> {
            float[] a = new float[len];
            float[] g = new float[len];
            x.get(i0, a);
            dy.get(i0, g);
            if (Rows.VECTOR) {
                VectorRows.derivativeAffine(act, a, g, g, 0, len, 1f, 0f);
            } else {
                for (int i = 0; i < len; i++) {
                    g[i] *= act.derivative(a[i]);
                }
            }
            dx.put(i0, g);
        });
    }

    /** diffusers' GEGLU on {@code p [rows, 2h]}: {@code y [rows, h] = p[:, :h] · gelu(p[:, h:])}. */
    static void gegluForward(FloatBuffer p, FloatBuffer y, int rows, int h) {
        blocks(rows, Math.max(1, BLOCK / (2 * h)), (r0, count) -> {
            float[] row = new float[2 * h];
            float[] out = new float[count * h];
            for (int r = 0; r < count; r++) {
                p.get((r0 + r) * 2 * h, row);
                if (Rows.VECTOR) {
                    VectorRows.geglu(row, out, r * h, h);
                } else {
                    for (int j = 0; j < h; j++) {
                        out[r * h + j] = row[j] * GELU.apply(row[h + j]);
                    }
                }
            }
            y.put(r0 * h, out);
        });
    }

    /** Backward of {@link #gegluForward}: {@code dp [rows, 2h]} from {@code dy [rows, h]}. */
    static void gegluBackward(FloatBuffer p, FloatBuffer dy, FloatBuffer dp, int rows, int h) {
        blocks(rows, Math.max(1, BLOCK / (2 * h)), (r0, count) -> {
            float[] row = new float[2 * h];
            float[] g = new float[count * h];
            float[] d = new float[2 * h];
            dy.get(r0 * h, g);
            for (int r = 0; r < count; r++) {
                p.get((r0 + r) * 2 * h, row);
                if (Rows.VECTOR) {
                    VectorRows.gegluBackward(row, g, r * h, d, h);
                } else {
                    for (int j = 0; j < h; j++) {
                        float gj = g[r * h + j];
                        d[j] = gj * GELU.apply(row[h + j]);
                        d[h + j] = gj * row[j] * GELU.derivative(row[h + j]);
                    }
                }
                dp.put((r0 + r) * 2 * h, d);
            }
        });
    }

    private interface Block {
        void run(int start, int length);
    }

    private static void blocks(int n, Block body) {
        blocks(n, BLOCK, body);
    }

    /** {@code body(start, length)} over [0, n) cut into pieces of {@code size}, in parallel. */
    private static void blocks(int n, int size, Block body) {
        int count = (n + size - 1) / size;
        Buffers.parallel(count, b -> body.run(b * size, Math.min(size, n - b * size)));
    }
}
