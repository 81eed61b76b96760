package dev.avatartrain.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.avatartrain.models.nn.SameDiffLayers;
import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.controlflow.compat.StopGradient;
import org.nd4j.linalg.api.ops.impl.layers.convolution.BatchNorm;
import org.nd4j.linalg.factory.Nd4j;

/**
 * GroupNorm(32, 64) formulations in SameDiff at B=12, 64 channels, 32x32: forward and forward+backward median ms,
 * each checked in double precision against the composed reference (max abs difference of output and of every
 * gradient on a small input). {@code bench/java.sh NormBench [profile]}; with "profile" also the time per op type
 * of one fwd+bwd call of each. PyTorch numbers come from bench/layers.py (groupnorm rows).
 */
public final class NormBench {
    static final int B = 12, C = 64, H = 32, W = 32, G = 32;
    static final double EPS = 1e-5;

    interface Norm {
        SDVariable apply(SameDiffLayers g, SDVariable x, SDVariable gamma, SDVariable beta);
    }

    static final Map<String, Norm> FORMS = new LinkedHashMap<>();

    static {
        FORMS.put("composed (GraphOps.groupNorm)", (g, x, ga, be) -> g.groupNorm(x, ga, be, G, EPS));
        FORMS.put("reference (M2.1 composed, pre-change)", NormBench::reference);
        FORMS.put("scale+shift per (b,c)", NormBench::scaleShift);
        FORMS.put("moments op", NormBench::moments);
        FORMS.put("batchNorm on [1,B*G,N], stats stopGradient", (g, x, ga, be) -> batchNorm(g, x, ga, be, true));
        FORMS.put("batchNorm on [1,B*G,N], stats differentiated", (g, x, ga, be) -> batchNorm(g, x, ga, be, false));
        FORMS.put("batchNorm stats + batchNorm affine", NormBench::batchNorm2);
        FORMS.put("standardize (no eps: not exact)", NormBench::standardize);
    }

    public static void main(String[] args) {
        boolean profile = args.length > 0 && args[0].equals("profile");
        check();
        if (args.length > 0 && args[0].equals("check")) return;
        INDArray x = Nd4j.randn(DataType.FLOAT, B, C, H, W);
        INDArray gout = Nd4j.randn(DataType.FLOAT, B, C, H, W);
        String only = args.length > 1 ? args[1] : "";
        for (Map.Entry<String, Norm> f : FORMS.entrySet()) {
            if (!f.getKey().startsWith(only)) continue;
            SameDiffLayers g = graph(f.getValue(), DataType.FLOAT);
            Map<String, INDArray> ph = Map.of("x", x, "g", gout);
            List<String> wrt = g.parameterNames();
            try {
                LayersBench.report("gn " + f.getKey() + " fwd", () -> g.sd().output(ph, "out"));
                LayersBench.report("gn " + f.getKey() + " fwd+bwd", () -> g.sd().calculateGradients(ph, wrt));
                if (profile) {
                    UNetBench.OpTimer t = new UNetBench.OpTimer();
                    g.sd().setListeners(t);
                    g.sd().calculateGradients(ph, wrt);
                    g.sd().setListeners();
                    t.print("gn");
                }
            } catch (RuntimeException e) {
                System.out.printf("java  gn %s failed: %s%n", f.getKey(), e);
            }
        }
    }

    /**
     * The norm applied to {@code x} through a parameter {@code pre}: SameDiff M2.1 returns no gradient for a placeholder that feeds a
     * reshape (and so would skip dx entirely), so the input passes through a parameter first, as activations do
     * in a network. For timing that is {@code x + pre} with a scalar {@code pre} (a broadcast add, whose backward
     * is cheap); for the check {@code x * pre} with {@code pre} per element ([1,C,H,W]), whose gradient then
     * compares dx element by element.
     */
    static SameDiffLayers graph(Norm n, DataType dt, long... preShape) {
        SameDiffLayers g = new SameDiffLayers(dt, 1);
        SDVariable x = g.input("x", -1, C, -1, -1);
        SDVariable gv = g.input("g", -1, C, -1, -1);
        Nd4j.getRandom().setSeed(5);
        SDVariable in = preShape.length == 0 ? x.add(g.param("pre", Nd4j.scalar(dt, 0.0)))
                : x.mul(g.param("pre", Nd4j.rand(dt, preShape).addi(0.5)));
        SDVariable gamma = g.param("n.weight", Nd4j.rand(dt, C).addi(0.5));
        SDVariable beta = g.param("n.bias", Nd4j.randn(dt, C));
        n.apply(g, in, gamma, beta).rename("out").mul(gv).sum().rename("loss");
        g.sd().setLossVariables("loss");
        return g;
    }

    /** Output and gradients of each formulation against the reference, double precision, B=2, 8x8. */
    static void check() {
        Nd4j.getRandom().setSeed(11);
        INDArray x = Nd4j.randn(DataType.DOUBLE, 2, C, 8, 8).muli(3).addi(1);
        INDArray gout = Nd4j.randn(DataType.DOUBLE, 2, C, 8, 8);
        Map<String, INDArray> ph = Map.of("x", x, "g", gout);
        SameDiffLayers ref = graph(NormBench::reference, DataType.DOUBLE, 1, C, 8, 8);
        List<String> wrt = ref.parameterNames();
        INDArray refOut = ref.sd().output(ph, "out").get("out");
        Map<String, INDArray> refGrad = ref.sd().calculateGradients(ph, wrt);
        for (Map.Entry<String, Norm> f : FORMS.entrySet()) {
            try {
                SameDiffLayers g = graph(f.getValue(), DataType.DOUBLE, 1, C, 8, 8);
                double dOut = g.sd().output(ph, "out").get("out").sub(refOut).amaxNumber().doubleValue();
                Map<String, INDArray> gr = g.sd().calculateGradients(ph, wrt);
                StringBuilder s = new StringBuilder();
                for (String w : wrt) {
                    if (gr.get(w) == null || refGrad.get(w) == null) throw new IllegalStateException("no gradient for " + w + ": " + gr.keySet() + " / " + refGrad.keySet());
                    s.append(String.format(" d%s %.1e", w, gr.get(w).sub(refGrad.get(w)).amaxNumber().doubleValue()));
                }
                System.out.printf("java  check %-45s out %.1e%s%n", f.getKey(), dOut, s);
            } catch (RuntimeException e) {
                System.out.printf("java  check %-45s failed: %s%n", f.getKey(), e);
                if (Boolean.getBoolean("trace")) e.printStackTrace(System.out);
            }
        }
    }

    /** The composed form the graph used in M2.1 before this change (reshape, mean, sub, square, mean, rsqrt, affine). */
    static SDVariable reference(SameDiffLayers g, SDVariable x, SDVariable gamma, SDVariable beta) {
        SameDiff sd = g.sd();
        SDVariable shape = x.shape();
        SDVariable grouped = sd.concat(0, shape.get(SDIndex.interval(0, 1)), sd.constant(Nd4j.createFromArray((long) G, -1L)));
        SDVariable xg = sd.reshape(x, grouped);
        SDVariable mean = xg.mean(true, 2);
        SDVariable xc = xg.sub(mean);
        SDVariable var = xc.mul(xc).mean(true, 2);
        SDVariable y = sd.reshape(xc.mul(sd.math().rsqrt(var.add(EPS))), shape);
        return y.mul(gamma.reshape(1, C, 1, 1)).add(beta.reshape(1, C, 1, 1));
    }

    /**
     * PyTorch's own scheme: group statistics, then one scale and one shift per (sample, channel), applied to the
     * input in one broadcast multiply-add: y = x * a + b, a = gamma * rstd, b = beta - mean * a.
     */
    static SDVariable scaleShift(SameDiffLayers g, SDVariable x, SDVariable gamma, SDVariable beta) {
        SameDiff sd = g.sd();
        SDVariable shape = x.shape();
        SDVariable grouped = sd.concat(0, shape.get(SDIndex.interval(0, 1)), sd.constant(Nd4j.createFromArray((long) G, -1L)));
        SDVariable xg = sd.reshape(x, grouped);
        SDVariable mean = xg.mean(true, 2);                               // [B,G,1]
        SDVariable xc = xg.sub(mean);
        SDVariable rstd = sd.math().rsqrt(xc.mul(xc).mean(true, 2).add(EPS)); // [B,G,1]
        SDVariable a = rstd.mul(gamma.reshape(1, G, C / G));             // [B,G,C/G]
        SDVariable b = beta.reshape(1, G, C / G).sub(mean.mul(a));
        return x.mul(a.reshape(-1, C, 1, 1)).add(b.reshape(-1, C, 1, 1));
    }

    static SDVariable moments(SameDiffLayers g, SDVariable x, SDVariable gamma, SDVariable beta) {
        SameDiff sd = g.sd();
        SDVariable shape = x.shape();
        SDVariable grouped = sd.concat(0, shape.get(SDIndex.interval(0, 1)), sd.constant(Nd4j.createFromArray((long) G, -1L)));
        SDVariable xg = sd.reshape(x, grouped);
        SDVariable[] mv = sd.math().moments(xg, new int[] {2}, true);
        SDVariable y = sd.reshape(xg.sub(mv[0]).mul(sd.math().rsqrt(mv[1].add(EPS))), shape);
        return y.mul(gamma.reshape(1, C, 1, 1)).add(beta.reshape(1, C, 1, 1));
    }

    static SDVariable batchNorm(SameDiffLayers g, SDVariable x, SDVariable gamma, SDVariable beta, boolean stop) {
        SameDiff sd = g.sd();
        SDVariable shape = x.shape();
        SDVariable bg = shape.get(SDIndex.interval(0, 1)).mul(G);
        SDVariable flat = sd.concat(0, sd.constant(Nd4j.createFromArray(1L)), bg, sd.constant(Nd4j.createFromArray(-1L)));
        SDVariable x3 = sd.reshape(x, flat);                            // [1, B*G, N]
        SDVariable[] mv = sd.math().moments(x3, new int[] {0, 2}, false); // [B*G]
        SDVariable mean = mv[0], var = mv[1];
        if (stop) {
            mean = new StopGradient(sd, mean).outputVariable();
            var = new StopGradient(sd, var).outputVariable();
        }
        DataType dt = g.dataType();
        SDVariable ones = sd.onesLike(mean), zeros = sd.zerosLike(mean);
        SDVariable y = sd.reshape(batchNormOp(sd, x3, mean, var, ones, zeros, EPS, 1), shape);
        return gamma == null ? y : y.mul(gamma.reshape(1, C, 1, 1)).add(beta.reshape(1, C, 1, 1));
    }

    /** batchNorm through the op's builder: sd.nn().batchNorm leaves the axis unset for the backward op in M2.1. */
    static SDVariable batchNormOp(SameDiff sd, SDVariable x, SDVariable mean, SDVariable var, SDVariable gamma,
                                  SDVariable beta, double eps, int axis) {
        return BatchNorm.builder().sameDiff(sd).inputFunctions(new SDVariable[] {x, mean, var, gamma, beta})
                .applyGamma(true).applyBeta(true).epsilon(eps).axis(new int[] {axis}).build().outputVariable();
    }

    /** Group statistics by batchNorm on [1,B*G,N] (stats stopGradient), affine by a second batchNorm (mean 0, var 1-eps). */
    static SDVariable batchNorm2(SameDiffLayers g, SDVariable x, SDVariable gamma, SDVariable beta) {
        SameDiff sd = g.sd();
        SDVariable y = batchNorm(g, x, null, null, true);
        SDVariable zeros = sd.zerosLike(gamma), var = sd.onesLike(gamma).mul(1 - EPS);
        return batchNormOp(sd, y, zeros, var, gamma, beta, EPS, 1);
    }

    static SDVariable standardize(SameDiffLayers g, SDVariable x, SDVariable gamma, SDVariable beta) {
        SameDiff sd = g.sd();
        SDVariable shape = x.shape();
        SDVariable grouped = sd.concat(0, shape.get(SDIndex.interval(0, 1)), sd.constant(Nd4j.createFromArray((long) G, -1L)));
        SDVariable y = sd.reshape(sd.math().standardize(sd.reshape(x, grouped), 2), shape);
        return y.mul(gamma.reshape(1, C, 1, 1)).add(beta.reshape(1, C, 1, 1));
    }
}
