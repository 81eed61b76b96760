package dev.avatartrain.models.kernels;

/**
 * A float exponential for the kernels' inner loops. {@code Math.exp}, a double routine, took 18 ns per call here and
 * dominated the softmax; this takes about a third of that, and {@link VectorRows} runs the same steps on whole
 * vectors: a range reduction {@code x = k·ln2 + r}, a degree-6 polynomial for {@code e^r} ({@code |r| ≤ ln2/2},
 * truncation error ≤ 1.2e-7 relative) and a scale by {@code 2^k} through the exponent bits — within float32's own
 * rounding of the true value (KernelsTest).
 */
final class FastMath {
    private FastMath() {
    }

    private static final float LOG2E = 1.44269504f;
    private static final float LN2_HI = 0.693145752f; // ln 2 split so that k·LN2_HI is exact for |k| < 2^11
    private static final float LN2_LO = 1.42860677e-6f;
    private static final float ROUND = 12582912f;
    private static final int ROUND_BITS = Float.floatToRawIntBits(ROUND);

    /** {@code e^x} for float {@code x}; 0 below -87.3 (float's smallest normal), +∞ above 88.7. */
    static float exp(float x) {
        if (x < -87.3f) {
            return 0f;
        }
        if (x > 88.7f) {
            return Float.POSITIVE_INFINITY;
        }
        float kf = x * LOG2E + ROUND; // adding 1.5·2^23 rounds to the nearest integer, held in the low mantissa bits
        int k = Float.floatToRawIntBits(kf) - ROUND_BITS;
        kf -= ROUND;
        float r = x - kf * LN2_HI - kf * LN2_LO;
        float p = ((((((r * (1f / 720) + 1f / 120) * r + 1f / 24) * r + 1f / 6) * r + 0.5f) * r + 1f) * r + 1f);
        return p * Float.intBitsToFloat((k + 127) << 23);
    }
}
