package dev.avatartrain.models.cuda;

/**
 * bfloat16 as the kernels store it ({@code common.cuh}): the upper 16 bits of a float32, rounded to nearest, ties to
 * even; NaN stays a quiet NaN, values past the largest bfloat16 round to infinity. The host uses it to prepare and
 * read bfloat16 buffers and the tests use it as the reference of the device casts.
 */
public final class BFloat16 {
    private BFloat16() {
    }

    /** The bfloat16 nearest to {@code f} (ties to even), as its 16 bits. */
    public static short fromFloat(float f) {
        int u = Float.floatToRawIntBits(f);
        if ((u & 0x7fffffff) > 0x7f800000) {
            return (short) ((u >>> 16) | 0x40);
        }
        u += 0x7fff + ((u >>> 16) & 1);
        return (short) (u >>> 16);
    }

    /** The float32 value of bfloat16 bits {@code h} (exact). */
    public static float toFloat(short h) {
        return Float.intBitsToFloat((h & 0xffff) << 16);
    }

    /** {@code f} rounded to bfloat16 precision, as a float. */
    public static float round(float f) {
        return toFloat(fromFloat(f));
    }
}
