package dev.avatartrain.models.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * {@link Rows} on the JDK's (incubating) vector API; loaded only when the module is present.
 *
 * <p>Results must not depend on whether a loop runs interpreted or compiled (a retried Spark task has to reproduce
 * its first attempt bit for bit), so this uses only lane-wise IEEE operations, whose scalar fallbacks round the same
 * way: not the API's {@code EXP} (an SVML intrinsic when compiled, {@code Math.exp} per lane when not) and not
 * {@code reduceLanes(ADD)} (its order is unspecified); lane sums are taken in a fixed order instead.
 */
final class VectorRows {
    private VectorRows() {
    }

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    /** {@link FastMath#exp} lane by lane, same operations in the same order (inputs ≤ 88.7 here). */
    private static FloatVector exp(FloatVector x) {
        FloatVector c = x.max(-87.3f);
        FloatVector kf = c.mul(1.44269504f).add(12582912f); // 1.5·2^23: rounds to the nearest integer
        IntVector k = kf.reinterpretAsInts().sub(0x4B400000);
        kf = kf.sub(12582912f);
        FloatVector r = c.sub(kf.mul(0.693145752f)).sub(kf.mul(1.42860677e-6f));
        FloatVector p = r.mul(1f / 720).add(1f / 120).mul(r).add(1f / 24).mul(r).add(1f / 6).mul(r).add(0.5f).mul(r)
                .add(1f).mul(r).add(1f);
        FloatVector scale = k.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return p.mul(scale).blend(0f, x.lt(-87.3f));
    }

    /** The lanes of {@code v} summed first to last. */
    private static float sum(FloatVector v) {
        float s = 0;
        for (int i = 0; i < v.length(); i++) {
            s += v.lane(i);
        }
        return s;
    }

    static float softmax(float[] row, int m) {
        int bound = S.loopBound(m);
        int j = 0;
        FloatVector vmax = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        for (; j < bound; j += S.length()) {
            vmax = vmax.max(FloatVector.fromArray(S, row, j));
        }
        float max = vmax.reduceLanes(VectorOperators.MAX);
        for (; j < m; j++) {
            max = Math.max(max, row[j]);
        }
        FloatVector vsum = FloatVector.zero(S);
        for (j = 0; j < bound; j += S.length()) {
            FloatVector e = exp(FloatVector.fromArray(S, row, j).sub(max));
            e.intoArray(row, j);
            vsum = vsum.add(e);
        }
        float sum = sum(vsum);
        for (; j < m; j++) {
            row[j] = FastMath.exp(row[j] - max);
            sum += row[j];
        }
        float inv = 1 / sum;
        for (j = 0; j < bound; j += S.length()) {
            FloatVector.fromArray(S, row, j).mul(inv).intoArray(row, j);
        }
        for (; j < m; j++) {
            row[j] *= inv;
        }
        return max + (float) Math.log(sum);
    }

    static void expShifted(float[] row, int m, float shift) {
        int bound = S.loopBound(m);
        int j = 0;
        for (; j < bound; j += S.length()) {
            exp(FloatVector.fromArray(S, row, j).sub(shift)).intoArray(row, j);
        }
        for (; j < m; j++) {
            row[j] = FastMath.exp(row[j] - shift);
        }
    }

    static void softmaxBackward(float[] p, float[] d, int m, float scale) {
        int bound = S.loopBound(m);
        int j = 0;
        FloatVector vdot = FloatVector.zero(S);
        for (; j < bound; j += S.length()) {
            vdot = FloatVector.fromArray(S, p, j).mul(FloatVector.fromArray(S, d, j)).add(vdot);
        }
        float dot = sum(vdot);
        for (; j < m; j++) {
            dot += p[j] * d[j];
        }
        for (j = 0; j < bound; j += S.length()) {
            FloatVector.fromArray(S, d, j).sub(dot).mul(FloatVector.fromArray(S, p, j)).mul(scale).intoArray(d, j);
        }
        for (; j < m; j++) {
            d[j] = scale * p[j] * (d[j] - dot);
        }
    }
}
