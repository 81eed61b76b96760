package dev.avatartrain.models.cuda;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.models.cuda.DeviceTape.Node;
import dev.avatartrain.models.kernels.Activation;
import dev.avatartrain.models.nn.Ops;
import dev.avatartrain.models.nn.Parameters;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * {@link Ops} on one GPU: activations in the compute type (float32, or bfloat16 for mixed precision), parameters as
 * float32 master copies on the device (cast to bfloat16 once per pass when computing in bfloat16), parameter gradients
 * always float32. Matrix products on cuBLAS ({@link Gemm}), convolutions on cuDNN ({@link Convolutions}), attention
 * as float32 strided-batched GEMMs around the softmax kernel, everything else in the NVRTC kernels. Backward steps are
 * recorded on a {@link DeviceTape}; the pass's activations are freed by {@link #close} (after the backward pass).
 * One instance per pass. Not yet run on a GPU.
 */
public final class CudaOps implements Ops<CudaOps.Var>, AutoCloseable {
    /** A value of the pass and its node on the tape; a parameter also carries its float32 master copy. */
    public static final class Var {
        final DeviceTensor value;
        final DeviceTensor f32;
        final Node<DeviceTensor> node;

        Var(DeviceTensor value, DeviceTensor f32, Node<DeviceTensor> node) {
            this.value = value;
            this.f32 = f32;
            this.node = node;
        }

        public DeviceTensor value() {
            return value;
        }

        long[] shape() {
            return value.shape();
        }

        long size(int axis) {
            return value.desc().size(axis);
        }
    }

    private final CudaContext cx;
    private final CudaDevice dev;
    private final Parameters parameters;
    private final Map<String, DeviceTensor> masters;
    private final Map<String, INDArray> inputs;
    private final DType compute;
    private final boolean trainable;
    private final DeviceTape<DeviceTensor> tape;
    private final Map<String, Var> params = new HashMap<>();
    private final Map<String, Var> given = new HashMap<>();
    /** What this pass allocated for its forward values: freed by {@link #close}. */
    private final List<DeviceTensor> owned = new ArrayList<>();

    /**
     * @param masters   the network's float32 parameters on the device, by name
     * @param trainable whether the parameters collect gradients (and a backward pass is recorded)
     */
    CudaOps(CudaContext cx, Parameters parameters, Map<String, DeviceTensor> masters, Map<String, INDArray> inputs,
            DType compute, boolean trainable) {
        this.cx = cx;
        this.dev = cx.device();
        this.parameters = parameters;
        this.masters = masters;
        this.inputs = inputs;
        this.compute = compute;
        this.trainable = trainable;
        this.tape = new DeviceTape<>(new DeviceGradients(), trainable);
    }

    /** The device's gradient arithmetic: sums added in place, consumed buffers back to the pool. */
    private final class DeviceGradients implements DeviceTape.Gradients<DeviceTensor> {
        @Override
        public DeviceTensor add(DeviceTensor a, DeviceTensor b) {
            if (a.dtype() != b.dtype() || a.elements() != b.elements()) {
                throw new IllegalStateException("gradients " + a + " and " + b + " do not add");
            }
            dev.launchElements("accumulate_" + a.dtype().suffix, a.elements(), a, b, a.elements());
            dev.free(b);
            return a;
        }

        @Override
        public void release(DeviceTensor g) {
            dev.free(g);
        }

        @Override
        public boolean same(DeviceTensor a, DeviceTensor b) {
            return a != null && b != null && a.owner == b.owner;
        }
    }

    /** The parameter variables this pass used: their float32 gradients after {@link #backward}. */
    Map<String, Var> usedParameters() {
        return params;
    }

    /** Runs the backward pass from the scalar {@code loss} (upstream gradient 1). */
    void backward(Var loss) {
        DeviceTensor seed = dev.allocate(TensorDesc.of(DType.F32, 1));
        dev.launchElements("fill_f32", 1, seed, 1L, 1f);
        tape.backward(loss.node, seed);
    }

    @Override
    public void close() {
        for (Var p : params.values()) {
            if (p.value != p.f32) {
                dev.free(p.value); // the pass's bfloat16 copy
            }
        }
        for (DeviceTensor t : owned) {
            dev.free(t);
        }
        owned.clear();
    }

    // ------------------------------------------------------------------------------------------------------------
    // Plumbing

    private String k(String base, DeviceTensor t) {
        return base + "_" + t.dtype().suffix;
    }

    private DeviceTensor out(DType dtype, long... shape) {
        DeviceTensor t = dev.allocate(TensorDesc.of(dtype, shape));
        owned.add(t);
        return t;
    }

    private DeviceTensor gradient(DeviceTensor like) {
        return dev.allocate(like.desc());
    }

    private DeviceTensor zerosF32(long... shape) {
        return dev.zeros(TensorDesc.of(DType.F32, shape));
    }

    @SafeVarargs
    private Var result(DeviceTensor value, String op, DeviceTape.Step<DeviceTensor> step, Var... in) {
        @SuppressWarnings("unchecked")
        Node<DeviceTensor>[] nodes = new Node[in.length];
        for (int i = 0; i < in.length; i++) {
            nodes[i] = in[i] == null ? null : in[i].node;
        }
        return new Var(value, null, tape.record(op, step, nodes));
    }

    private void accumulate(Var to, DeviceTensor g) {
        tape.accumulate(to.node, g);
    }

    private DeviceTensor copyOf(DeviceTensor t) {
        DeviceTensor c = dev.allocate(t.desc());
        dev.copy(t, c);
        return c;
    }

    private static long prod(long[] s, int from, int to) {
        long p = 1;
        for (int i = from; i < to; i++) {
            p *= s[i];
        }
        return p;
    }

    // ------------------------------------------------------------------------------------------------------------
    // Inputs and parameters

    @Override
    public Var input(String name, long... shape) {
        return given.computeIfAbsent(name, n -> {
            INDArray a = inputs.get(n);
            if (a == null) {
                throw new BadInputException("the network needs the input \"" + n + "\" "
                        + Arrays.toString(shape).replace("-1", "?") + "; it was not given.");
            }
            DeviceTensor t = dev.upload(a.castTo(DataType.FLOAT).toFloatVector(), compute, a.shape());
            owned.add(t);
            return new Var(t, null, tape.constant());
        });
    }

    @Override
    public Var parameter(String name) {
        return params.computeIfAbsent(name, n -> {
            DeviceTensor master = masters.get(n);
            if (master == null) {
                throw new IllegalStateException("parameter " + n + " is not on the device");
            }
            DeviceTensor value = master;
            if (compute == DType.BF16) {
                value = dev.allocate(TensorDesc.of(DType.BF16, master.shape()));
                dev.launchElements("cast_f32_to_bf16", master.elements(), master, value, master.elements());
            }
            return new Var(value, master, trainable ? tape.parameter() : tape.constant());
        });
    }

    @Override
    public Parameters parameters() {
        return parameters;
    }

    // ------------------------------------------------------------------------------------------------------------
    // Layers

    @Override
    public Var conv2d(Var x, Var w, Var b, int stride, int pad) {
        Convolutions conv = cx.convolutions();
        DeviceTensor y = conv.forward(x.value, w.value, stride, pad);
        owned.add(y);
        long[] ys = y.shape();
        long c = ys[1];
        long s = ys[2] * ys[3];
        if (b != null) {
            dev.launchElements(k("add_bias_channels", y), y.elements(), y, b.f32, y.elements(), (int) c, (int) s);
        }
        return result(y, "conv2d", dy -> {
            if (x.node.needsGrad()) {
                accumulate(x, conv.backwardData(x.value, w.value, dy, stride, pad));
            }
            if (w.node.needsGrad()) {
                DeviceTensor dw = conv.backwardFilter(x.value, w.value, dy, stride, pad);
                accumulate(w, toF32(dw));
            }
            if (b != null && b.node.needsGrad()) {
                DeviceTensor db = zerosF32(c);
                dev.launch(k("sum_channels", dy), LaunchGeometry.perRow(c, ys[0] * s), dy, db, (int) ys[0], (int) c,
                        (int) s);
                accumulate(b, db);
            }
        }, x, w, b);
    }

    /** A float32 copy of {@code t} (t freed), or t itself when it is float32. */
    private DeviceTensor toF32(DeviceTensor t) {
        if (t.dtype() == DType.F32) {
            return t;
        }
        DeviceTensor f = dev.allocate(TensorDesc.of(DType.F32, t.shape()));
        dev.launchElements("cast_bf16_to_f32", t.elements(), t, f, t.elements());
        dev.free(t);
        return f;
    }

    @Override
    public Var linear(Var x, Var w, Var b) {
        long[] xs = x.shape();
        int in = (int) xs[xs.length - 1];
        int outF = (int) w.size(0);
        int rows = (int) (x.value.elements() / in);
        long[] ys = xs.clone();
        ys[ys.length - 1] = outF;
        DeviceTensor y = out(x.value.dtype(), ys);
        if (b != null) {
            dev.launchElements(k("bias_rows", y), y.elements(), b.f32, y, y.elements(), outF);
        }
        Gemm gemm = cx.gemm();
        gemm.matmul(x.value, false, w.value, true, y, rows, outF, in, b != null);
        return result(y, "linear", dy -> {
            if (x.node.needsGrad()) {
                DeviceTensor dx = gradient(x.value);
                gemm.matmul(dy, false, w.value, false, dx, rows, in, outF, false);
                accumulate(x, dx);
            }
            if (w.node.needsGrad()) {
                DeviceTensor dw = dev.allocate(TensorDesc.of(DType.F32, w.shape()));
                gemm.matmul(dy, true, x.value, false, dw, outF, in, rows, false);
                accumulate(w, dw);
            }
            if (b != null && b.node.needsGrad()) {
                DeviceTensor db = zerosF32(outF);
                dev.launch(k("sum_columns", dy), LaunchGeometry.perColumn(outF), dy, db, rows, outF);
                accumulate(b, db);
            }
        }, x, w, b);
    }

    @Override
    public Var groupNorm(Var x, Var gamma, Var beta, int groups, double eps, Activation act) {
        long[] xs = x.shape();
        int c = (int) xs[1];
        int s = (int) prod(xs, 2, xs.length);
        long bg = xs[0] * groups;
        DeviceTensor y = out(x.value.dtype(), xs);
        DeviceTensor mean = out(DType.F32, bg);
        DeviceTensor rstd = out(DType.F32, bg);
        LaunchGeometry g = LaunchGeometry.perRow(bg, (long) c / groups * s);
        dev.launch(k("group_norm_act_fwd", y), g, x.value, y, gamma.f32, beta.f32, mean, rstd, c, s, groups,
                (float) eps, act.ordinal());
        return result(y, "groupNorm", dy -> {
            DeviceTensor dx = gradient(x.value);
            DeviceTensor dg = zerosF32(c);
            DeviceTensor db = zerosF32(c);
            dev.launch(k("group_norm_act_bwd", dy), g, x.value, dy, dx, gamma.f32, beta.f32, mean, rstd, dg, db, c,
                    s, groups, act.ordinal());
            accumulate(x, dx);
            accumulate(gamma, dg);
            accumulate(beta, db);
        }, x, gamma, beta);
    }

    @Override
    public Var layerNorm(Var x, Var gamma, Var beta, double eps) {
        long[] xs = x.shape();
        int d = (int) xs[xs.length - 1];
        long rows = x.value.elements() / d;
        DeviceTensor y = out(x.value.dtype(), xs);
        DeviceTensor mean = out(DType.F32, rows);
        DeviceTensor rstd = out(DType.F32, rows);
        LaunchGeometry g = LaunchGeometry.perRow(rows, d);
        dev.launch(k("layer_norm_fwd", y), g, x.value, y, gamma.f32, beta.f32, mean, rstd, d, (float) eps);
        return result(y, "layerNorm", dy -> {
            DeviceTensor dx = gradient(x.value);
            dev.launch(k("layer_norm_bwd_input", dy), g, x.value, dy, dx, gamma.f32, mean, rstd, d);
            accumulate(x, dx);
            DeviceTensor dg = zerosF32(d);
            DeviceTensor db = zerosF32(d);
            dev.launch(k("layer_norm_bwd_params", dy), LaunchGeometry.perColumn(d), x.value, dy, mean, rstd, dg, db,
                    (int) rows, d);
            accumulate(gamma, dg);
            accumulate(beta, db);
        }, x, gamma, beta);
    }

    @Override
    public Var activation(Var x, Activation act) {
        long n = x.value.elements();
        DeviceTensor y = out(x.value.dtype(), x.shape());
        dev.launchElements(k("act_fwd", y), n, x.value, y, n, act.ordinal());
        return result(y, "activation", dy -> {
            DeviceTensor dx = gradient(x.value);
            dev.launchElements(k("act_bwd", dy), n, x.value, dy, dx, n, act.ordinal());
            accumulate(x, dx);
        }, x);
    }

    @Override
    public Var geglu(Var proj, int hidden) {
        long[] s = proj.shape();
        long rows = proj.value.elements() / (2L * hidden);
        long[] ys = s.clone();
        ys[ys.length - 1] = hidden;
        DeviceTensor y = out(proj.value.dtype(), ys);
        dev.launchElements(k("geglu_fwd", y), rows * hidden, proj.value, y, rows, hidden);
        return result(y, "geglu", dy -> {
            DeviceTensor dp = gradient(proj.value);
            dev.launchElements(k("geglu_bwd", dy), rows * hidden, proj.value, dy, dp, rows, hidden);
            accumulate(proj, dp);
        }, proj);
    }

    @Override
    public Var attention(Var q, Var k, Var v, int heads, int headDim) {
        Attention a = new Attention(dev, cx.gemm(), heads, headDim);
        DeviceTensor qf = f32Copy(q.value);
        DeviceTensor kf = f32Copy(k.value);
        DeviceTensor vf = f32Copy(v.value);
        Attention.Forward f = a.forward(qf, kf, vf);
        owned.add(f.probs());
        DeviceTensor y = q.value.dtype() == DType.F32 ? f.out() : cast(f.out(), q.value.dtype());
        owned.add(y);
        if (y != f.out()) {
            dev.free(f.out());
        }
        return result(y, "attention", dy -> {
            DeviceTensor dyf = f32Copy(dy);
            Attention.Grads g = a.backward(qf, kf, vf, f.probs(), dyf);
            dev.free(dyf);
            accumulate(q, castGradient(g.dq(), q.value.dtype()));
            accumulate(k, castGradient(g.dk(), k.value.dtype()));
            accumulate(v, castGradient(g.dv(), v.value.dtype()));
        }, q, k, v);
    }

    /** {@code t} as a float32 tensor the pass owns: the same tensor when it already is one. */
    private DeviceTensor f32Copy(DeviceTensor t) {
        if (t.dtype() == DType.F32) {
            return t;
        }
        DeviceTensor f = out(DType.F32, t.shape());
        dev.launchElements("cast_bf16_to_f32", t.elements(), t, f, t.elements());
        return f;
    }

    private DeviceTensor cast(DeviceTensor f32, DType to) {
        DeviceTensor t = dev.allocate(TensorDesc.of(to, f32.shape()));
        dev.launchElements("cast_f32_to_bf16", f32.elements(), f32, t, f32.elements());
        return t;
    }

    private DeviceTensor castGradient(DeviceTensor f32, DType to) {
        if (to == DType.F32) {
            return f32;
        }
        DeviceTensor t = cast(f32, to);
        dev.free(f32);
        return t;
    }

    @Override
    public Var add(Var a, Var b) {
        long n = a.value.elements();
        if (b.value.elements() != n) {
            throw new IllegalArgumentException("add of " + a.value + " and " + b.value);
        }
        DeviceTensor y = out(a.value.dtype(), a.shape());
        dev.launchElements(k("add", y), n, a.value, b.value, y, n);
        return result(y, "add", dy -> {
            accumulate(b, copyOf(dy));
            accumulate(a, dy);
        }, a, b);
    }

    @Override
    public Var affine(Var x, double a, double b) {
        long n = x.value.elements();
        DeviceTensor y = out(x.value.dtype(), x.shape());
        dev.launchElements(k("affine", y), n, x.value, y, n, (float) a, (float) b);
        return result(y, "affine", dy -> {
            DeviceTensor dx = gradient(dy);
            dev.launchElements(k("affine", dy), n, dy, dx, n, (float) a, 0f);
            accumulate(x, dx);
        }, x);
    }

    @Override
    public Var addPerChannel(Var h, Var t) {
        long[] hs = h.shape();
        int s = (int) prod(hs, 2, hs.length);
        long n = h.value.elements();
        DeviceTensor y = out(h.value.dtype(), hs);
        dev.launchElements(k("add_per_channel", y), n, h.value, t.value, y, n, s);
        return result(y, "addPerChannel", dy -> {
            if (t.node.needsGrad()) {
                DeviceTensor dt = gradient(t.value);
                dev.launch(k("sum_rows", dy), LaunchGeometry.perRow(hs[0] * hs[1], s), dy, dt, s, 0);
                accumulate(t, dt);
            }
            accumulate(h, dy);
        }, h, t);
    }

    @Override
    public Var concat(int axis, Var a, Var b) {
        long[] as = a.shape();
        long[] bs = b.shape();
        long outer = prod(as, 0, axis);
        long na = prod(as, axis, as.length);
        long nb = prod(bs, axis, bs.length);
        long[] ys = as.clone();
        ys[axis] += bs[axis];
        DeviceTensor y = out(a.value.dtype(), ys);
        dev.launchElements(k("concat", y), outer * (na + nb), a.value, b.value, y, outer, na, nb);
        return result(y, "concat", dy -> {
            DeviceTensor da = a.node.needsGrad() ? gradient(a.value) : null;
            DeviceTensor db = b.node.needsGrad() ? gradient(b.value) : null;
            dev.launchElements(k("split", dy), outer * (na + nb), dy, da, db, outer, na, nb);
            if (da != null) {
                accumulate(a, da);
            }
            if (db != null) {
                accumulate(b, db);
            }
        }, a, b);
    }

    @Override
    public Var padBottomRight(Var x) {
        return perPlane(x, "padBottomRight", "pad_bottom_right", "crop_bottom_right", 1, 1);
    }

    @Override
    public Var upsample2x(Var x) {
        return perPlane(x, "upsample2x", "upsample2x_fwd", "upsample2x_bwd", 2, 0);
    }

    /**
     * A layout change of each H×W plane of NCHW input to {@code (factor·H + extra) × (factor·W + extra)}, by kernels
     * that take (planes, H, W) and write every element of their output.
     */
    private Var perPlane(Var x, String op, String fwd, String bwd, int factor, int extra) {
        long[] xs = x.shape();
        long planes = xs[0] * xs[1];
        int h = (int) xs[2];
        int w = (int) xs[3];
        DeviceTensor y = out(x.value.dtype(), xs[0], xs[1], (long) factor * h + extra, (long) factor * w + extra);
        dev.launchElements(k(fwd, y), y.elements(), x.value, y, planes, h, w);
        return result(y, op, dy -> {
            DeviceTensor dx = gradient(x.value);
            dev.launchElements(k(bwd, dy), dx.elements(), dy, dx, planes, h, w);
            accumulate(x, dx);
        }, x);
    }

    /** {@code y [b, cols, rows]} from {@code x [b, rows, cols]}. */
    private void transpose(DeviceTensor x, DeviceTensor y, long b, long rows, long cols) {
        dev.launch(k("transpose", x), LaunchGeometry.transpose(b, rows, cols), x, y, (int) rows, (int) cols);
    }

    @Override
    public Var toTokens(Var x) {
        long[] xs = x.shape();
        long c = xs[1];
        long s = xs[2] * xs[3];
        DeviceTensor y = out(x.value.dtype(), xs[0], s, c);
        transpose(x.value, y, xs[0], c, s);
        return result(y, "toTokens", dy -> {
            DeviceTensor dx = gradient(x.value);
            transpose(dy, dx, xs[0], s, c);
            accumulate(x, dx);
        }, x);
    }

    @Override
    public Var fromTokens(Var tokens, Var like) {
        long[] ls = like.shape();
        long c = tokens.size(-1);
        long s = ls[2] * ls[3];
        DeviceTensor y = out(tokens.value.dtype(), ls[0], c, ls[2], ls[3]);
        transpose(tokens.value, y, ls[0], s, c);
        return result(y, "fromTokens", dy -> {
            DeviceTensor dt = gradient(tokens.value);
            transpose(dy, dt, ls[0], c, s);
            accumulate(tokens, dt);
        }, tokens);
    }

    /** A free view; the gradient goes back as a view of the output's gradient. */
    private Var view(Var x, long[] shape, String op) {
        long[] xs = x.shape();
        return result(x.value.reshape(shape), op, dy -> accumulate(x, dy.reshape(xs)), x);
    }

    @Override
    public Var flatten(Var x, int axis) {
        long[] s = Arrays.copyOf(x.shape(), axis + 1);
        s[axis] = x.value.elements() / prod(s, 0, axis);
        return view(x, s, "flatten");
    }

    @Override
    public Var splitLast(Var x, int parts) {
        long[] s = x.shape();
        long[] o = Arrays.copyOf(s, s.length + 1);
        o[s.length - 1] = parts;
        o[s.length] = s[s.length - 1] / parts;
        return view(x, o, "splitLast");
    }

    @Override
    public Var timestepEmbedding(Var t, int dim, double shift, boolean flipSinToCos) {
        DeviceTensor tf = f32Copy(t.value);
        int b = (int) tf.elements();
        DeviceTensor y = out(compute, b, dim);
        dev.launchElements(k("timestep_embedding", y), (long) b * dim, tf, y, b, dim, (float) shift,
                flipSinToCos ? 1 : 0);
        return new Var(y, null, tape.constant());
    }

    @Override
    public Var tanhClamp(Var x, double limit) {
        long n = x.value.elements();
        DeviceTensor y = out(x.value.dtype(), x.shape());
        dev.launchElements(k("tanh_clamp_fwd", y), n, x.value, y, n, (float) limit);
        return result(y, "tanhClamp", dy -> {
            DeviceTensor dx = gradient(x.value);
            dev.launchElements(k("tanh_clamp_bwd", dy), n, x.value, dy, dx, n, (float) limit);
            accumulate(x, dx);
        }, x);
    }

    /** A float32 scalar at 0, which the loss kernels' blocks add their sums to. */
    private DeviceTensor zeroLoss() {
        DeviceTensor loss = out(DType.F32, 1);
        dev.launchElements("fill_f32", 1, loss, 1L, 0f);
        return loss;
    }

    private Var reduction(String fwd, String bwd, Var o, Var target) {
        long n = o.value.elements();
        DeviceTensor loss = zeroLoss();
        dev.launchElements(k(fwd, o.value), n, o.value, target.value, loss, n);
        return result(loss, fwd, dl -> {
            DeviceTensor dout = gradient(o.value);
            dev.launchElements(k(bwd, o.value), n, o.value, target.value, dl, dout, n);
            accumulate(o, dout);
        }, o);
    }

    @Override
    public Var mseLoss(Var o, Var target) {
        return reduction("mse_fwd", "mse_bwd", o, target);
    }

    @Override
    public Var l1Loss(Var o, Var target) {
        return reduction("l1_fwd", "l1_bwd", o, target);
    }

    @Override
    public Var rowWeightedMse(Var o, Var target, Var w) {
        long rows = w.value.elements();
        long n = o.value.elements();
        int per = (int) (n / rows);
        DeviceTensor wf = f32Copy(w.value);
        DeviceTensor loss = zeroLoss();
        dev.launch(k("row_weighted_mse_fwd", o.value), LaunchGeometry.perRow(rows, per), o.value, target.value, wf,
                loss, per);
        return result(loss, "rowWeightedMse", dl -> {
            DeviceTensor dout = gradient(o.value);
            dev.launchElements(k("row_weighted_mse_bwd", o.value), n, o.value, target.value, wf, dl, dout, n, per);
            accumulate(o, dout);
        }, o);
    }
}
