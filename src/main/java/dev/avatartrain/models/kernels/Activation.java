package dev.avatartrain.models.kernels;

/** Element-wise activations with their derivatives, as PyTorch computes them (GELU is the exact erf form). */
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
}
