package dev.avatartrain.models.kernels;

import java.nio.FloatBuffer;
import java.util.List;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

import dev.avatartrain.models.kernels.Tape.Var;

/**
 * The layers of the hand-written training path, each a forward computation on float32 arrays plus its backward pass
 * recorded on the {@link Tape}. Shapes are PyTorch's: images NCHW, tokens {@code [rows, features]}, convolution
 * weights {@code [out, in, k, k]}, linear weights {@code [out, in]}. Outputs are new arrays; inputs are never
 * modified.
 */
public final class Layers {
    private Layers() {
    }

    /**
     * {@code nn.Conv2d} with square kernel and symmetric zero padding, by libnd4j's {@code conv2d} / {@code
     * conv2d_bp} (oneDNN) on PyTorch's weight layout. {@code bias} may be null.
     */
    public static Var conv2d(Tape tape, Var x, Var weight, Var bias, int stride, int pad) {
        long t0 = Profile.start();
        INDArray xv = x.value();
        INDArray w = weight.value();
        int k = (int) w.size(2);
        long oh = (xv.size(2) + 2L * pad - k) / stride + 1;
        long ow = (xv.size(3) + 2L * pad - k) / stride + 1;
        INDArray y = Buffers.empty(xv.size(0), w.size(0), oh, ow);
        int[] iArgs = {k, k, stride, stride, pad, pad, 1, 1, 0, 0, 1}; // ..., VALID, NCHW, weights [oC, iC, kH, kW]
        INDArray[] in = bias == null ? new INDArray[] {xv, w} : new INDArray[] {xv, w, bias.value()};
        Nd4j.exec(new DynamicCustomOp("conv2d", in, new INDArray[] {y}, List.of(), iArgs));
        Var out = tape.result(y, x, weight, bias);
        tape.onBackward(out, "conv2d", t0, dy -> {
            INDArray dx = Buffers.empty(xv.shape());
            INDArray dw = Buffers.empty(w.shape());
            INDArray g = Buffers.dense(dy);
            INDArray db = bias == null ? null : Buffers.empty(bias.value().shape());
            if (gemmBackward(xv.size(0) * oh * ow, w.size(1) * k * k)) {
                conv2dBackwardByGemm(xv, w, g, dx, dw, db, k, stride, pad, oh, ow);
            } else {
                INDArray[] bin = bias == null ? new INDArray[] {xv, w, g} : new INDArray[] {xv, w, bias.value(), g};
                INDArray[] bout = bias == null ? new INDArray[] {dx, dw} : new INDArray[] {dx, dw, db};
                Nd4j.exec(new DynamicCustomOp("conv2d_bp", bin, bout, List.of(), iArgs));
            }
            x.accumulate(dx, true);
            weight.accumulate(dw, true);
            if (bias != null) {
                bias.accumulate(db, true);
            }
        });
        return out;
    }

    /**
     * Whether a convolution's backward pass runs as im2col + GEMMs instead of libnd4j's {@code conv2d_bp}: when few
     * output positions ({@code batch × oH × oW}) meet many unfolded input channels ({@code iC × k²}), as in the deep
     * levels of the default UNet. There {@code conv2d_bp} took 3.9–5× longer than the GEMMs (B=2, 1280 channels at
     * 8×8: 275 vs 71 ms; 640 at 16×16: 92 vs 55 ms); at 32×32 and for small channel counts it is faster
     * (320 at 32×32: 48 vs 76 ms; 64 at 32×32, B=12: 10 vs 65 ms), docs/benchmarks.md.
     */
    static boolean gemmBackward(long outputPositions, long unfoldedChannels) {
        return outputPositions <= 512 && unfoldedChannels >= 1024;
    }

    /**
     * The gradients of a convolution by GEMMs, per image: {@code dW += dY_b · col(x_b)ᵀ} (the weight gradient in
     * PyTorch's [oC, iC·k·k] order), {@code dcol_b = Wᵀ · dY_b} folded back by col2im into {@code dx}, and {@code db}
     * the sum of {@code dY} over batch and positions.
     */
    private static void conv2dBackwardByGemm(INDArray x, INDArray w, INDArray dy, INDArray dx, INDArray dw, INDArray db, int k,
                                             int stride, int pad, long oh, long ow) {
        long b = x.size(0), ci = x.size(1), co = w.size(0), rows = ci * k * k, cols = oh * ow;
        INDArray col = Buffers.empty(b, ci, k, k, oh, ow);
        INDArray dcol = Buffers.empty(b, ci, k, k, oh, ow);
        Nd4j.exec(new DynamicCustomOp("im2col", new INDArray[] {x}, new INDArray[] {col}, List.of(),
                new int[] {k, k, stride, stride, pad, pad, 1, 1, 0}));
        INDArray w2 = w.reshape(co, rows);
        INDArray dw2 = dw.reshape(co, rows);
        for (long i = 0; i < b; i++) {
            INDArray dyb = dy.get(NDArrayIndex.point(i)).reshape(co, cols);
            INDArray colb = col.get(NDArrayIndex.point(i)).reshape(rows, cols);
            INDArray dcolb = dcol.get(NDArrayIndex.point(i)).reshape(rows, cols);
            Nd4j.gemm(dyb, colb, dw2, false, true, 1.0, i == 0 ? 0.0 : 1.0);
            Nd4j.gemm(w2, dyb, dcolb, true, false, 1.0, 0.0);
        }
        Nd4j.exec(new DynamicCustomOp("col2im", new INDArray[] {dcol}, new INDArray[] {dx}, List.of(),
                new int[] {stride, stride, pad, pad, (int) x.size(2), (int) x.size(3), 1, 1, 0}));
        if (db != null) {
            db.assign(dy.sum(0, 2, 3));
        }
        Buffers.release(col);
        Buffers.release(dcol);
    }

    /**
     * {@code x Wᵀ + b} on {@code x [rows, in]} for {@code W [out, in]} (or a 1×1 convolution's {@code [out, in, 1,
     * 1]}, whose gradient keeps that shape); {@code bias} may be null. GEMMs with transpose flags, no transposed
     * copies.
     */
    public static Var linear(Tape tape, Var x, Var weight, Var bias) {
        long t0 = Profile.start();
        INDArray xv = Buffers.dense(x.value());
        INDArray w = weight.value();
        INDArray w2 = w.rank() == 2 ? w : w.reshape(w.size(0), w.size(1));
        INDArray y = Buffers.empty(xv.size(0), w2.size(0));
        Nd4j.gemm(xv, w2, y, false, true, 1.0, 0.0);
        if (bias != null) {
            y.addiRowVector(bias.value());
        }
        Var out = tape.result(y, x, weight, bias);
        tape.onBackward(out, "linear", t0, dy -> {
            dy = Buffers.dense(dy);
            if (x.needsGrad()) {
                INDArray dx = Buffers.empty(xv.shape());
                Nd4j.gemm(dy, w2, dx, false, false, 1.0, 0.0);
                x.accumulate(dx, true);
            }
            if (weight.needsGrad()) {
                INDArray dw = Buffers.empty(w2.shape());
                Nd4j.gemm(dy, xv, dw, true, false, 1.0, 0.0);
                weight.accumulate(dw.reshape(w.shape()), true);
            }
            if (bias != null && bias.needsGrad()) {
                bias.accumulate(dy.sum(0), true);
            }
        });
        return out;
    }

    /** {@code nn.GroupNorm(groups, C, eps)} on NCHW input followed by {@code act} (IDENTITY for none), fused. */
    public static Var groupNorm(Tape tape, Var x, Var gamma, Var beta, int groups, double eps, Activation act) {
        long t0 = Profile.start();
        INDArray xv = Buffers.dense(x.value());
        int b = (int) xv.size(0);
        int c = (int) xv.size(1);
        int s = (int) (xv.length() / ((long) b * c));
        if (c % groups != 0) {
            throw new IllegalArgumentException("GroupNorm: " + c + " channels not divisible by " + groups);
        }
        float[] g = Buffers.toFloats(gamma.value());
        float[] be = Buffers.toFloats(beta.value());
        float[] mean = new float[b * groups];
        float[] rstd = new float[b * groups];
        INDArray y = Buffers.empty(xv.shape());
        Norms.groupNormForward(Buffers.floats(xv), Buffers.floats(y), g, be, b, c, s, groups, eps, act, mean, rstd);
        Var out = tape.result(y, x, gamma, beta);
        tape.onBackward(out, "groupNorm", t0, dy -> {
            dy = Buffers.dense(dy);
            INDArray dx = Buffers.empty(xv.shape());
            double[] dg = new double[b * c];
            double[] db = new double[b * c];
            Norms.groupNormBackward(Buffers.floats(xv), Buffers.floats(dy), Buffers.floats(dx), g, be, b, c, s, groups,
                    act, mean, rstd, dg, db);
            x.accumulate(dx, true);
            gamma.accumulate(sumOverSamples(dg, b, c), true);
            beta.accumulate(sumOverSamples(db, b, c), true);
        });
        return out;
    }

    private static INDArray sumOverSamples(double[] perSampleChannel, int b, int c) {
        float[] out = new float[c];
        for (int j = 0; j < c; j++) {
            double sum = 0;
            for (int i = 0; i < b; i++) {
                sum += perSampleChannel[i * c + j];
            }
            out[j] = (float) sum;
        }
        return Nd4j.createFromArray(out);
    }

    /** {@code nn.LayerNorm(d, eps)} over the last axis of {@code x [rows, d]}. */
    public static Var layerNorm(Tape tape, Var x, Var gamma, Var beta, double eps) {
        long t0 = Profile.start();
        INDArray xv = Buffers.dense(x.value());
        int d = (int) xv.size(xv.rank() - 1);
        int rows = (int) (xv.length() / d);
        float[] g = Buffers.toFloats(gamma.value());
        float[] mean = new float[rows];
        float[] rstd = new float[rows];
        INDArray y = Buffers.empty(xv.shape());
        Norms.layerNormForward(Buffers.floats(xv), Buffers.floats(y), g, Buffers.toFloats(beta.value()), rows, d, eps,
                mean, rstd);
        Var out = tape.result(y, x, gamma, beta);
        tape.onBackward(out, "layerNorm", t0, dy -> {
            dy = Buffers.dense(dy);
            INDArray dx = Buffers.empty(xv.shape());
            double[][] dgb = Norms.layerNormBackward(Buffers.floats(xv), Buffers.floats(dy), Buffers.floats(dx), g, rows,
                    d, mean, rstd);
            x.accumulate(dx, true);
            gamma.accumulate(toFloatArray(dgb[0]), true);
            beta.accumulate(toFloatArray(dgb[1]), true);
        });
        return out;
    }

    private static INDArray toFloatArray(double[] v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = (float) v[i];
        }
        return Nd4j.createFromArray(f);
    }

    /** An element-wise activation. */
    public static Var activation(Tape tape, Var x, Activation act) {
        long t0 = Profile.start();
        INDArray xv = Buffers.dense(x.value());
        INDArray y = Buffers.empty(xv.shape());
        FloatBuffer xb = Buffers.floats(xv);
        int n = (int) xv.length();
        Activation.forward(act, xb, Buffers.floats(y), n);
        Var out = tape.result(y, x);
        tape.onBackward(out, "activation", t0, dy -> {
            INDArray dx = Buffers.empty(xv.shape());
            Activation.backward(act, xb, Buffers.floats(Buffers.dense(dy)), Buffers.floats(dx), n);
            x.accumulate(dx, true);
        });
        return out;
    }

    /**
     * diffusers' GEGLU on {@code proj [rows, 2h]} (the projection's output): {@code value · gelu(gate)} with value
     * the first h features and gate the last h.
     */
    public static Var geglu(Tape tape, Var proj) {
        long t0 = Profile.start();
        INDArray pv = Buffers.dense(proj.value());
        int rows = (int) pv.size(0);
        int h = (int) pv.size(1) / 2;
        INDArray y = Buffers.empty(rows, h);
        FloatBuffer pb = Buffers.floats(pv);
        Activation.gegluForward(pb, Buffers.floats(y), rows, h);
        Var out = tape.result(y, proj);
        tape.onBackward(out, "geglu", t0, dy -> {
            INDArray dp = Buffers.empty(pv.shape());
            Activation.gegluBackward(pb, Buffers.floats(Buffers.dense(dy)), Buffers.floats(dp), rows, h);
            proj.accumulate(dp, true);
        });
        return out;
    }

    /**
     * Multi-head attention core on projected tokens: {@code q [B·n, heads·d]}, {@code k, v [B·m, heads·d]} to
     * {@code [B·n, heads·d]}, {@code softmax(q kᵀ/√d) v} per sample and head (see {@link Attention}).
     */
    public static Var attention(Tape tape, Var q, Var k, Var v, int batch, int heads) {
        long t0 = Profile.start();
        int inner = (int) q.value().size(1);
        int d = inner / heads;
        int n = (int) (q.value().size(0) / batch);
        int m = (int) (k.value().size(0) / batch);
        double scale = 1 / Math.sqrt(d);
        if (Attention.blocked(d)) { // on the tokens' layout, no head moves
            INDArray qv = Buffers.dense(q.value());
            INDArray kv = Buffers.dense(k.value());
            INDArray vv = Buffers.dense(v.value());
            float[] lse = new float[batch * heads * n];
            INDArray o = Attention.forwardTokens(qv, kv, vv, batch, heads, lse, scale);
            Var out = tape.result(o, q, k, v);
            tape.onBackward(out, "attention", t0, dy -> {
                INDArray[] g = Attention.backwardTokens(qv, kv, vv, o, lse, Buffers.dense(dy), batch, heads, scale);
                q.accumulate(g[0], true);
                k.accumulate(g[1], true);
                v.accumulate(g[2], true);
            });
            return out;
        }
        INDArray qh = Attention.splitHeads(Buffers.dense(q.value()), batch, n, heads, d);
        INDArray kh = Attention.splitHeads(Buffers.dense(k.value()), batch, m, heads, d);
        INDArray vh = Attention.splitHeads(Buffers.dense(v.value()), batch, m, heads, d);
        float[] lse = new float[batch * heads * n];
        INDArray oh = Attention.forward(qh, kh, vh, lse, scale);
        Var out = tape.result(Attention.mergeHeads(oh, batch, n, heads, d), q, k, v);
        tape.onBackward(out, "attention", t0, dy -> {
            INDArray dOh = Attention.splitHeads(Buffers.dense(dy), batch, n, heads, d);
            INDArray[] g = Attention.backward(qh, kh, vh, oh, lse, dOh, scale);
            q.accumulate(Attention.mergeHeads(g[0], batch, n, heads, d), true);
            k.accumulate(Attention.mergeHeads(g[1], batch, m, heads, d), true);
            v.accumulate(Attention.mergeHeads(g[2], batch, m, heads, d), true);
        });
        return out;
    }

    /** {@code a + b}, same shapes. */
    public static Var add(Tape tape, Var a, Var b) {
        long t0 = Profile.start();
        Var out = tape.result(a.value().add(b.value()), a, b);
        tape.onBackward(out, "add", t0, dy -> {
            a.accumulate(dy, false);
            b.accumulate(dy, false);
        });
        return out;
    }

    /** {@code x · s}. */
    public static Var scale(Tape tape, Var x, double s) {
        long t0 = Profile.start();
        Var out = tape.result(x.value().mul(s), x);
        tape.onBackward(out, "scale", t0, dy -> {
            x.accumulate(dy.mul(s), true);
        });
        return out;
    }

    /** {@code h [B, C, H, W] + t [B, C]} broadcast over the positions (the ResNet's time embedding). */
    public static Var addPerChannel(Tape tape, Var h, Var t) {
        long t0 = Profile.start();
        INDArray hv = Buffers.dense(h.value());
        int b = (int) hv.size(0);
        int c = (int) hv.size(1);
        int s = (int) (hv.length() / ((long) b * c));
        float[] tv = Buffers.toFloats(t.value());
        INDArray y = Buffers.empty(hv.shape());
        FloatBuffer hb = Buffers.floats(hv);
        FloatBuffer yb = Buffers.floats(y);
        Buffers.parallel(b * c, bc -> {
            float add = tv[bc];
            for (int i = bc * s; i < (bc + 1) * s; i++) {
                yb.put(i, hb.get(i) + add);
            }
        });
        Var out = tape.result(y, h, t);
        tape.onBackward(out, "addPerChannel", t0, dy -> {
            if (t.needsGrad()) {
                t.accumulate(Buffers.dense(dy).reshape(b, c, s).sum(2), true);
            }
            h.accumulate(dy, false); // passed through: may be shared with another consumer's gradient
        });
        return out;
    }

    /** Concatenation of two arrays along {@code axis} (the other sizes equal). */
    public static Var concat(Tape tape, int axis, Var a, Var b) {
        long t0 = Profile.start();
        long na = a.value().size(axis);
        long nb = b.value().size(axis);
        Var out = tape.result(Nd4j.concat(axis, a.value(), b.value()), a, b);
        tape.onBackward(out, "concat", t0, dy -> {
            a.accumulate(slice(dy, axis, 0, na), true);
            b.accumulate(slice(dy, axis, na, na + nb), true);
        });
        return out;
    }

    private static INDArray slice(INDArray a, int axis, long from, long to) {
        INDArrayIndex[] idx = new INDArrayIndex[a.rank()];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i == axis ? NDArrayIndex.interval(from, to) : NDArrayIndex.all();
        }
        return a.get(idx).dup('c');
    }

    /** {@code x} with another shape of as many elements (C order; no copy when {@code x} is dense). */
    public static Var reshape(Tape tape, Var x, long... shape) {
        long t0 = Profile.start();
        long[] from = x.value().shape();
        Var out = tape.result(Buffers.dense(x.value()).reshape('c', shape), x);
        tape.onBackward(out, "reshape", t0, dy -> {
            x.accumulate(Buffers.dense(dy).reshape('c', from), false); // a view of dy: not owned
        });
        return out;
    }

    /** {@code x · a + b}. */
    public static Var affine(Tape tape, Var x, double a, double b) {
        long t0 = Profile.start();
        INDArray y = x.value().mul(a);
        if (b != 0) {
            y.addi(b);
        }
        Var out = tape.result(y, x);
        tape.onBackward(out, "affine", t0, dy -> {
            x.accumulate(dy.mul(a), true);
        });
        return out;
    }

    /** {@code limit · tanh(x / limit)} (taesd.py's soft clamp of latents). */
    public static Var tanhClamp(Tape tape, Var x, double limit) {
        long t0 = Profile.start();
        INDArray th = Transforms.tanh(x.value().div(limit), false);
        Var out = tape.result(th.mul(limit), x);
        tape.onBackward(out, "tanhClamp", t0, dy -> {
            x.accumulate(th.mul(th).rsubi(1.0).muli(dy), true); // d/dx = 1 - tanh²
        });
        return out;
    }

    /** {@code mean((out - target)²)}: a scalar ({@code F.mse_loss}). {@code target} gets no gradient. */
    public static Var mseLoss(Tape tape, Var out, Var target) {
        long t0 = Profile.start();
        INDArray diff = out.value().sub(target.value());
        long n = diff.length();
        double norm = diff.norm2Number().doubleValue();
        Var loss = tape.result(Nd4j.scalar(DataType.FLOAT, (float) (norm * norm / n)), out);
        tape.onBackward(loss, "mseLoss", t0, dy -> {
            out.accumulate(diff.muli(2.0 * dy.getDouble(0) / n), true);
        });
        return loss;
    }

    /** {@code mean(|out - target|)}: a scalar ({@code F.l1_loss}; gradient 0 where they are equal). */
    public static Var l1Loss(Tape tape, Var out, Var target) {
        long t0 = Profile.start();
        INDArray diff = Buffers.dense(out.value().sub(target.value()));
        long n = diff.length();
        Var loss = tape.result(Nd4j.scalar(DataType.FLOAT, (float) (diff.norm1Number().doubleValue() / n)), out);
        tape.onBackward(loss, "l1Loss", t0, dy -> {
            FloatBuffer buf = Buffers.floats(diff);
            float inv = (float) (dy.getDouble(0) / n);
            for (int i = 0; i < n; i++) {
                float v = buf.get(i);
                buf.put(i, v > 0 ? inv : v < 0 ? -inv : 0f);
            }
            out.accumulate(diff, true);
        });
        return loss;
    }

    /**
     * {@code Σ_r w_r · mean((out_r - target_r)²)}, with the rows r over the leading axes that {@code w} covers: a
     * scalar. {@code target} and {@code w} get no gradient.
     */
    public static Var rowWeightedMse(Tape tape, Var out, Var target, Var w) {
        long t0 = Profile.start();
        long rows = w.value().length();
        long per = out.value().length() / rows;
        INDArray diff = Buffers.dense(out.value().sub(target.value())).reshape('c', rows, per);
        INDArray wc = Buffers.dense(w.value()).reshape('c', rows, 1);
        double loss = diff.mul(diff).sum(1).reshape(rows, 1).muli(wc).sumNumber().doubleValue() / per;
        Var result = tape.result(Nd4j.scalar(DataType.FLOAT, (float) loss), out);
        long[] shape = out.value().shape();
        tape.onBackward(result, "rowWeightedMse", t0, dy -> {
            INDArray g = diff.muliColumnVector(wc.mul(2.0 * dy.getDouble(0) / per));
            out.accumulate(g.reshape('c', shape), true);
        });
        return result;
    }

    /** Zero padding of one row at the bottom and one column at the right (diffusers' {@code downsample_padding 0}). */
    public static Var padBottomRight(Tape tape, Var x) {
        long t0 = Profile.start();
        INDArray xv = x.value();
        long h = xv.size(2);
        long w = xv.size(3);
        INDArray y = Nd4j.zeros(xv.dataType(), xv.size(0), xv.size(1), h + 1, w + 1);
        y.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.interval(0, h), NDArrayIndex.interval(0, w)).assign(xv);
        Var out = tape.result(y, x);
        tape.onBackward(out, "padBottomRight", t0, dy -> {
            x.accumulate(dy.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.interval(0, h),
                    NDArrayIndex.interval(0, w)).dup('c'), true);
        });
        return out;
    }

    /** Nearest-neighbour 2× upsampling of NCHW input. */
    public static Var upsample2x(Tape tape, Var x) {
        long t0 = Profile.start();
        INDArray xv = Buffers.dense(x.value());
        int planes = (int) (xv.size(0) * xv.size(1));
        int h = (int) xv.size(2);
        int w = (int) xv.size(3);
        INDArray y = Buffers.empty(xv.size(0), xv.size(1), 2L * h, 2L * w);
        FloatBuffer xb = Buffers.floats(xv);
        FloatBuffer yb = Buffers.floats(y);
        Buffers.parallel(planes, p -> {
            for (int i = 0; i < 2 * h; i++) {
                int src = p * h * w + (i / 2) * w;
                int dst = (p * 2 * h + i) * 2 * w;
                for (int j = 0; j < 2 * w; j++) {
                    yb.put(dst + j, xb.get(src + j / 2));
                }
            }
        });
        Var out = tape.result(y, x);
        tape.onBackward(out, "upsample2x", t0, dy -> {
            FloatBuffer db = Buffers.floats(Buffers.dense(dy));
            INDArray dx = Buffers.empty(xv.shape());
            FloatBuffer dxb = Buffers.floats(dx);
            Buffers.parallel(planes, p -> {
                for (int i = 0; i < h; i++) {
                    int r0 = (p * 2 * h + 2 * i) * 2 * w;
                    int r1 = r0 + 2 * w;
                    for (int j = 0; j < w; j++) {
                        dxb.put(p * h * w + i * w + j, db.get(r0 + 2 * j) + db.get(r0 + 2 * j + 1)
                                + db.get(r1 + 2 * j) + db.get(r1 + 2 * j + 1));
                    }
                }
            });
            x.accumulate(dx, true);
        });
        return out;
    }

    /** {@code [B, C, H, W] -> [B·H·W, C]} (positions become token rows). */
    public static Var toTokens(Tape tape, Var x) {
        long t0 = Profile.start();
        INDArray xv = Buffers.dense(x.value());
        int b = (int) xv.size(0);
        int c = (int) xv.size(1);
        int s = (int) (xv.size(2) * xv.size(3));
        Var out = tape.result(transposeLast(xv, b, c, s), x);
        tape.onBackward(out, "toTokens", t0, dy -> {
            x.accumulate(transposeLast(Buffers.dense(dy), b, s, c).reshape(xv.shape()), true);
        });
        return out;
    }

    /** {@code [B·H·W, C] -> [B, C, H, W]}. */
    public static Var fromTokens(Tape tape, Var t, int b, int h, int w) {
        long t0 = Profile.start();
        INDArray tv = Buffers.dense(t.value());
        int c = (int) tv.size(1);
        Var out = tape.result(transposeLast(tv, b, h * w, c).reshape(b, c, h, w), t);
        tape.onBackward(out, "fromTokens", t0, dy -> {
            t.accumulate(transposeLast(Buffers.dense(dy), b, c, h * w).reshape(tv.shape()), true);
        });
        return out;
    }

    /** {@code [b, r, c]} (given as any dense array of that many elements) to a new {@code [b·c, r]}. */
    private static INDArray transposeLast(INDArray x, int b, int r, int c) {
        INDArray y = Buffers.empty((long) b * c, r);
        FloatBuffer xb = Buffers.floats(x);
        FloatBuffer yb = Buffers.floats(y);
        int tile = 32;
        int tilesR = (r + tile - 1) / tile;
        Buffers.parallel(b * tilesR, task -> {
            int bi = task / tilesR;
            int r0 = (task % tilesR) * tile;
            int r1 = Math.min(r, r0 + tile);
            int base = bi * r * c;
            for (int j = 0; j < c; j++) {
                for (int i = r0; i < r1; i++) {
                    yb.put(base + j * r + i, xb.get(base + i * c + j));
                }
            }
        });
        return y;
    }
}
