package dev.avatartrain.models.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

/** bfloat16 rounding against a reference that picks the nearer neighbour by exact arithmetic, ties to even. */
class BFloat16Test {
    /** The nearest bfloat16 by distance in double (exact for floats), ties to the even pattern; ±2^128 stands for ∞. */
    private static short reference(float f) {
        if (Float.isNaN(f)) {
            return (short) 0x7fc0;
        }
        int bits = Float.floatToRawIntBits(f);
        int lo = bits >>> 16; // truncated: same sign, magnitude <= |f|
        int hi = lo + 1; // next magnitude up
        if ((bits & 0xffff) == 0 || Float.isInfinite(f)) {
            return (short) lo;
        }
        double dLo = Math.abs((double) f - value(lo));
        double dHi = Math.abs(value(hi) - (double) f);
        if (dLo != dHi) {
            return (short) (dLo < dHi ? lo : hi);
        }
        return (short) ((lo & 1) == 0 ? lo : hi);
    }

    private static double value(int h) {
        if ((h & 0x7fff) == 0x7f80) {
            return Math.copySign(Math.pow(2, 128), (h & 0x8000) != 0 ? -1 : 1);
        }
        return BFloat16.toFloat((short) h);
    }

    @Test
    void roundsToNearestEvenLikeTheReference() {
        SplittableRandom r = new SplittableRandom(7);
        for (int i = 0; i < 2_000_000; i++) {
            float f = Float.intBitsToFloat(r.nextInt());
            if (Float.isNaN(f)) {
                continue;
            }
            assertEquals(reference(f), BFloat16.fromFloat(f), () -> "bits " + Integer.toHexString(
                    Float.floatToRawIntBits(f)));
        }
    }

    @Test
    void edgeCases() {
        float[] cases = {0f, -0f, 1f, -1f, 1.00390625f /* tie, even below */, 1.01171875f /* tie, odd below */,
            Float.MIN_VALUE, Float.MIN_NORMAL, Float.MAX_VALUE, -Float.MAX_VALUE, Float.POSITIVE_INFINITY,
            Float.NEGATIVE_INFINITY, 3.3895314e38f /* largest bfloat16 */, 3.3961776e38f /* its tie with ∞ */};
        for (float f : cases) {
            assertEquals(reference(f), BFloat16.fromFloat(f), () -> Float.toString(f));
        }
        assertEquals((short) 0x3f80, BFloat16.fromFloat(1.00390625f)); // tie 1 + 2^-8 -> 1 (even)
        assertEquals((short) 0x3f82, BFloat16.fromFloat(1.01171875f)); // tie 1 + 3·2^-8 -> 1 + 2^-6 (even)
        assertEquals(Float.POSITIVE_INFINITY, BFloat16.round(Float.MAX_VALUE));
        assertEquals(3.3895314e38f, BFloat16.round(3.3895314e38f));
        assertTrue(Float.isNaN(BFloat16.round(Float.NaN)));
        assertTrue(Float.isNaN(BFloat16.toFloat(BFloat16.fromFloat(Float.intBitsToFloat(0x7f800001))))); // stays NaN
    }

    @Test
    void aRoundTripKeepsEightSignificantBits() {
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < 100_000; i++) {
            float f = (float) (r.nextDouble(-1e6, 1e6));
            float b = BFloat16.round(f);
            assertTrue(Math.abs(b - f) <= Math.ulp(f) * 65536 / 2 * 1.0000001, f + " -> " + b);
        }
    }
}
