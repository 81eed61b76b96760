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

    /**
     * {@link FastMath#exp}'s steps lane by lane (inputs ≤ 88.7 here), with fused multiply-adds for the range
     * reduction and the polynomial: 11 vector operations instead of 17, within one float rounding of the scalar
     * routine (attention spends a third of its time here). A lane-wise fused multiply-add rounds once whether
     * compiled or not, so results still do not depend on JIT state.
     */
    static FloatVector exp(FloatVector x) {
        FloatVector c = x.max(-87.3f);
        FloatVector kf = c.fma(1.44269504f, 12582912f); // + 1.5·2^23: rounds to the nearest integer
        IntVector k = kf.reinterpretAsInts().sub(0x4B400000);
        kf = kf.sub(12582912f);
        FloatVector r = kf.fma(MINUS_LN2_HI, c);
        r = kf.fma(MINUS_LN2_LO, r);
        FloatVector p = r.fma(1f / 720, 1f / 120).fma(r, C4).fma(r, C3).fma(r, C2).fma(r, ONE).fma(r, ONE);
        FloatVector scale = k.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return p.mul(scale).blend(0f, x.lt(-87.3f));
    }

    private static final FloatVector MINUS_LN2_HI = FloatVector.broadcast(S, -0.693145752f);
    private static final FloatVector MINUS_LN2_LO = FloatVector.broadcast(S, -1.42860677e-6f);
    private static final FloatVector C4 = FloatVector.broadcast(S, 1f / 24);
    private static final FloatVector C3 = FloatVector.broadcast(S, 1f / 6);
    private static final FloatVector C2 = FloatVector.broadcast(S, 0.5f);
    private static final FloatVector ONE = FloatVector.broadcast(S, 1f);

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

    /**
     * {@link Activation#erf} lane by lane in float (the same Chebyshev fit of erfc; ≈ 2e-7 absolute with float's
     * rounding).
     */
    static FloatVector erf(FloatVector x) {
        FloatVector z = x.abs();
        FloatVector t = FloatVector.broadcast(S, 1f).div(z.mul(0.5f).add(1f));
        FloatVector poly = t.mul(0.17087277f).add(-0.82215223f).mul(t).add(1.48851587f).mul(t).add(-1.13520398f)
                .mul(t).add(0.27886807f).mul(t).add(-0.18628806f).mul(t).add(0.09678418f).mul(t).add(0.37409196f)
                .mul(t).add(1.00002368f).mul(t).add(-1.26551223f);
        FloatVector r = t.mul(exp(poly.sub(z.mul(z))));
        return r.neg().add(1f).blend(r.sub(1f), x.lt(0f));
    }

    private static final float SQRT_HALF = 0.70710678f;
    private static final float INV_SQRT_2PI = 0.39894228f;

    /** GELU (erf form) of {@code x}. */
    static FloatVector gelu(FloatVector x) {
        return x.mul(0.5f).mul(erf(x.mul(SQRT_HALF)).add(1f));
    }

    /** d GELU / dx at {@code x}. */
    static FloatVector geluDerivative(FloatVector x) {
        FloatVector cdf = erf(x.mul(SQRT_HALF)).add(1f).mul(0.5f);
        return x.mul(INV_SQRT_2PI).mul(exp(x.mul(x).mul(-0.5f))).add(cdf);
    }

    /** SiLU {@code x / (1 + e^-x)}. */
    static FloatVector silu(FloatVector x) {
        return x.div(exp(x.neg()).add(1f));
    }

    /** d SiLU / dx {@code = s · (1 + x · (1 − s))}, {@code s = 1 / (1 + e^-x)}. */
    static FloatVector siluDerivative(FloatVector x) {
        FloatVector sig = FloatVector.broadcast(S, 1f).div(exp(x.neg()).add(1f));
        return sig.mul(x.mul(sig.neg().add(1f)).add(1f));
    }

    private static FloatVector apply(Activation act, FloatVector x) {
        return switch (act) {
            case IDENTITY -> x;
            case SILU -> silu(x);
            case GELU -> gelu(x);
            case RELU -> x.max(0f);
        };
    }

    private static FloatVector derivative(Activation act, FloatVector x) {
        return switch (act) {
            case IDENTITY -> FloatVector.broadcast(S, 1f);
            case SILU -> siluDerivative(x);
            case GELU -> geluDerivative(x);
            case RELU -> FloatVector.zero(S).blend(1f, x.compare(VectorOperators.GT, 0f));
        };
    }

    /** {@code y[o, o + n) = act((x[o, o + n) − c) · a + b)} (in place allowed). */
    static void applyAffine(Activation act, float[] x, float[] y, int o, int n, float c, float a, float b) {
        int i = o;
        int end = o + S.loopBound(n);
        // one loop per activation, the choice outside it (a choice per vector inside the loop may keep the JIT
        // from holding the vectors in registers)
        if (act == Activation.GELU) {
            for (; i < end; i += S.length()) {
                gelu(FloatVector.fromArray(S, x, i).sub(c).mul(a).add(b)).intoArray(y, i);
            }
        } else if (act == Activation.SILU) {
            for (; i < end; i += S.length()) {
                silu(FloatVector.fromArray(S, x, i).sub(c).mul(a).add(b)).intoArray(y, i);
            }
        }
        for (; i < end; i += S.length()) {
            apply(act, FloatVector.fromArray(S, x, i).sub(c).mul(a).add(b)).intoArray(y, i);
        }
        for (; i < o + n; i++) {
            y[i] = act.apply((x[i] - c) * a + b);
        }
    }

    /**
     * One channel of the GroupNorm backward (see Norms): {@code da ← da · act'(xhat · g + be)} in place, {@code xhat
     * = (x − m) · r}; {@code sums = {Σ da, Σ da · xhat}} (float lanes, added first to last).
     */
    static void normChannelBackward(Activation act, float[] x, float[] da, int o, int s, float m, float r, float g,
                                    float be, double[] sums) {
        FloatVector sumDa = FloatVector.zero(S);
        FloatVector sumDaXhat = FloatVector.zero(S);
        int i = o;
        for (int end = o + S.loopBound(s); i < end; i += S.length()) {
            FloatVector xhat = FloatVector.fromArray(S, x, i).sub(m).mul(r);
            FloatVector d = FloatVector.fromArray(S, da, i);
            if (act != Activation.IDENTITY) {
                d = d.mul(derivative(act, xhat.mul(g).add(be)));
            }
            d.intoArray(da, i);
            sumDa = sumDa.add(d);
            sumDaXhat = d.fma(xhat, sumDaXhat);
        }
        double s0 = sum(sumDa);
        double s1 = sum(sumDaXhat);
        for (; i < o + s; i++) {
            float xhat = (x[i] - m) * r;
            float d = act == Activation.IDENTITY ? da[i] : da[i] * act.derivative(xhat * g + be);
            da[i] = d;
            s0 += d;
            s1 += d * xhat;
        }
        sums[0] = s0;
        sums[1] = s1;
    }

    /** {@code da[o, o + s) ← gr · da − r · (mean1 + xhat · mean2)}, {@code xhat = (x − m) · r}. */
    static void normInputGradient(float[] x, float[] da, int o, int s, float m, float r, float gr, float mean1,
                                  float mean2) {
        int i = o;
        for (int end = o + S.loopBound(s); i < end; i += S.length()) {
            FloatVector xhat = FloatVector.fromArray(S, x, i).sub(m).mul(r);
            FloatVector.fromArray(S, da, i).mul(gr).sub(xhat.mul(mean2).add(mean1).mul(r)).intoArray(da, i);
        }
        for (; i < o + s; i++) {
            float xhat = (x[i] - m) * r;
            da[i] = gr * da[i] - r * (mean1 + xhat * mean2);
        }
    }

    /** {@code g[o, o + n) = dy[o, o + n) · act'(a · x[o, o + n) + b)} (in place in dy allowed). */
    static void derivativeAffine(Activation act, float[] x, float[] dy, float[] g, int o, int n, float a, float b) {
        int i = o;
        int end = o + S.loopBound(n);
        if (act == Activation.GELU) { // as applyAffine
            for (; i < end; i += S.length()) {
                FloatVector.fromArray(S, dy, i).mul(geluDerivative(FloatVector.fromArray(S, x, i).mul(a).add(b)))
                        .intoArray(g, i);
            }
        } else if (act == Activation.SILU) {
            for (; i < end; i += S.length()) {
                FloatVector.fromArray(S, dy, i).mul(siluDerivative(FloatVector.fromArray(S, x, i).mul(a).add(b)))
                        .intoArray(g, i);
            }
        }
        for (; i < end; i += S.length()) {
            FloatVector.fromArray(S, dy, i).mul(derivative(act, FloatVector.fromArray(S, x, i).mul(a).add(b)))
                    .intoArray(g, i);
        }
        for (; i < o + n; i++) {
            g[i] = dy[i] * act.derivative(x[i] * a + b);
        }
    }

    /** GEGLU on one row {@code p[0, 2h)}: {@code y[yo + j] = p[j] · gelu(p[h + j])}. */
    static void geglu(float[] p, float[] y, int yo, int h) {
        int j = 0;
        for (int end = S.loopBound(h); j < end; j += S.length()) {
            FloatVector.fromArray(S, p, j).mul(gelu(FloatVector.fromArray(S, p, h + j))).intoArray(y, yo + j);
        }
        for (; j < h; j++) {
            y[yo + j] = p[j] * Activation.GELU.apply(p[h + j]);
        }
    }

    /** Backward of {@link #geglu} on one row: {@code dp[0, 2h)} from {@code dy[dyo, dyo + h)}. */
    static void gegluBackward(float[] p, float[] dy, int dyo, float[] dp, int h) {
        int j = 0;
        for (int end = S.loopBound(h); j < end; j += S.length()) {
            FloatVector g = FloatVector.fromArray(S, dy, dyo + j);
            FloatVector gate = FloatVector.fromArray(S, p, h + j);
            g.mul(gelu(gate)).intoArray(dp, j);
            g.mul(FloatVector.fromArray(S, p, j)).mul(geluDerivative(gate)).intoArray(dp, h + j);
        }
        for (; j < h; j++) {
            float g = dy[dyo + j];
            float gate = p[h + j];
            dp[j] = g * Activation.GELU.apply(gate);
            dp[h + j] = g * p[j] * Activation.GELU.derivative(gate);
        }
    }
}
