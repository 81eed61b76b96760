package dev.avatartrain.models.nn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.enums.WeightsFormat;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.Conv2DConfig;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.PaddingMode;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Builds a SameDiff graph whose trainable variables carry PyTorch names and layouts (conv weight
 * {@code [out, in, kh, kw]}, linear weight {@code [out, in]}, norm {@code weight}/{@code bias}), so that
 * importing and exporting weights is a name-for-name copy (see {@link NamedWeights}).
 *
 * <p>Layer methods take the PyTorch module prefix ({@code down_blocks.0.resnets.0.conv1}) and create
 * {@code prefix.weight} / {@code prefix.bias}. Parameters are initialised like PyTorch's defaults
 * (uniform ±1/√fan_in for conv/linear, ones/zeros for norms) from the builder's seed; real weights are
 * usually loaded afterwards. Activations are NCHW for images and {@code [..., features]} for linear layers.
 */
public final class GraphBuilder {
    private final SameDiff sd;
    private final DataType dtype;
    private final Random random;
    private final Map<String, SDVariable> params = new LinkedHashMap<>();

    /** A builder on a new graph; {@code dtype} is the parameters' and activations' type (FLOAT or DOUBLE). */
    public GraphBuilder(DataType dtype, long seed) {
        this.sd = SameDiff.create();
        this.dtype = dtype;
        this.random = new Random(seed);
    }

    public SameDiff sd() {
        return sd;
    }

    public DataType dataType() {
        return dtype;
    }

    /** Trainable parameters created so far, in creation order, by PyTorch name. */
    public Map<String, SDVariable> params() {
        return Collections.unmodifiableMap(params);
    }

    public List<String> parameterNames() {
        return new ArrayList<>(params.keySet());
    }

    /** The graph and the parameters created so far, as a {@link Network}. */
    public Network network() {
        return new SimpleNetwork(sd, parameterNames());
    }

    /** A placeholder input; use -1 for dimensions fixed only at run time. */
    public SDVariable input(String name, long... shape) {
        return sd.placeHolder(name, dtype, shape);
    }

    /** A trainable variable named {@code name} with {@code init} values (copied). */
    public SDVariable param(String name, INDArray init) {
        if (params.containsKey(name)) {
            throw new IllegalStateException("parameter created twice: " + name);
        }
        SDVariable v = sd.var(name, init.castTo(dtype).dup());
        params.put(name, v);
        return v;
    }

    private INDArray uniform(double bound, long... shape) {
        INDArray a = Nd4j.create(DataType.DOUBLE, shape);
        long n = a.length();
        for (long i = 0; i < n; i++) {
            a.putScalar(i, (random.nextDouble() * 2 - 1) * bound);
        }
        return a.castTo(dtype);
    }

    /**
     * 2-D convolution, NCHW, square kernel, symmetric zero padding, like {@code nn.Conv2d(in, out, k,
     * stride, padding, bias=bias)}. Creates {@code prefix.weight [out,in,k,k]} and {@code prefix.bias [out]}.
     */
    public SDVariable conv2d(String prefix, SDVariable x, int in, int out, int k, int stride, int padding,
                             boolean bias) {
        double bound = 1.0 / Math.sqrt((double) in * k * k);
        SDVariable w = param(prefix + ".weight", uniform(bound, out, in, k, k));
        SDVariable b = bias ? param(prefix + ".bias", uniform(bound, out)) : null;
        return conv2d(x, w, b, k, stride, padding);
    }

    /** Convolution with given PyTorch-layout weight {@code [out,in,k,k]} and optional bias {@code [out]}. */
    public SDVariable conv2d(SDVariable x, SDVariable weightOIHW, SDVariable bias, int k, int stride, int padding) {
        // SameDiff's conv2d (and its backward pass) works with YXIO weights in M2.1; OIYX fails in conv2d_bp.
        SDVariable w = weightOIHW.permute(2, 3, 1, 0);
        Conv2DConfig cfg = Conv2DConfig.builder().kH(k).kW(k).sH(stride).sW(stride).pH(padding).pW(padding)
                .dH(1).dW(1).paddingMode(PaddingMode.VALID).dataFormat("NCHW").weightsFormat(WeightsFormat.YXIO)
                .build();
        return bias == null ? sd.cnn().conv2d(x, w, cfg) : sd.cnn().conv2d(x, w, bias, cfg);
    }

    /**
     * Linear layer {@code y = x W^T + b} like {@code nn.Linear(in, out)}; {@code x} is {@code [..., in]}. Creates {@code prefix.weight [out,in]}, {@code prefix.bias}.
     */
    public SDVariable linear(String prefix, SDVariable x, int in, int out, boolean bias) {
        double bound = 1.0 / Math.sqrt(in);
        SDVariable w = param(prefix + ".weight", uniform(bound, out, in));
        SDVariable b = bias ? param(prefix + ".bias", uniform(bound, out)) : null;
        return linear(x, w, b, in, out);
    }

    /** {@code x W^T + b} for PyTorch-layout {@code W [out,in]}; any leading dimensions of {@code x} are kept. */
    public SDVariable linear(SDVariable x, SDVariable weight, SDVariable bias, int in, int out) {
        SDVariable shape = x.shape();
        SDVariable x2 = x.reshape(-1, in);
        // mmul with transB calls GEMM with the transpose flag: no materialised W^T.
        SDVariable y = sd.mmul(x2, weight, false, true, false);
        if (bias != null) {
            y = y.add(bias);
        }
        SDVariable lead = shape.get(SDIndex.interval(0, -1));
        SDVariable outShape = sd.concat(0, lead, sd.constant(Nd4j.createFromArray((long) out)));
        return sd.reshape(y, outShape);
    }

    /** {@code nn.GroupNorm(groups, channels, eps)} on NCHW input: {@code prefix.weight}, {@code prefix.bias}. */
    public SDVariable groupNorm(String prefix, SDVariable x, int groups, int channels, double eps) {
        SDVariable gamma = param(prefix + ".weight", Nd4j.ones(dtype, channels));
        SDVariable beta = param(prefix + ".bias", Nd4j.zeros(dtype, channels));
        return groupNorm(x, gamma, beta, groups, channels, eps);
    }

    /**
     * GroupNorm with given affine parameters (biased variance, eps inside the square root, as PyTorch).
     *
     * <p>Written so that its backward pass has no broadcasting {@code multiply}: in M2.1 {@code multiply_bp} with a
     * broadcast operand costs 35–60 ms on a 12×64×32×32 activation, against ≈ 1 ms for {@code multiply_bp} on equal
     * shapes and 1–2 ms for {@code add_bp}/{@code subtract_bp} with broadcasting (docs/benchmarks.md, "Network
     * layers"). So the mean is subtracted by a broadcast subtract, and the per-(sample, channel) scale
     * {@code gamma · rsqrt(var + eps)} — computed on the small {@code [B, G, C/G]} tensor — is first expanded to
     * the activation's shape by a broadcast add onto zeros ({@link #broadcastMul}), then multiplied element-wise.
     */
    public SDVariable groupNorm(SDVariable x, SDVariable gamma, SDVariable beta, int groups, int channels,
                                double eps) {
        if (channels % groups != 0) {
            throw new IllegalArgumentException("GroupNorm: " + channels + " channels not divisible by " + groups);
        }
        SDVariable shape = x.shape();
        SDVariable batch = shape.get(SDIndex.interval(0, 1));
        SDVariable grouped = sd.concat(0, batch, sd.constant(Nd4j.createFromArray((long) groups, -1L)));
        SDVariable g = sd.reshape(x, grouped);
        SDVariable xc = g.sub(g.mean(true, 2));
        SDVariable rstd = sd.math().rsqrt(xc.mul(xc).mean(true, 2).add(eps));                 // [B, G, 1]
        SDVariable scale = rstd.mul(gamma.reshape(1, groups, channels / groups)).reshape(-1, channels, 1, 1);
        return broadcastMul(sd.reshape(xc, shape), shape, scale).add(beta.reshape(1, channels, 1, 1));
    }

    /**
     * {@code x * y} for {@code y} broadcasting against {@code x} (whose shape is {@code shapeOfX}), as
     * {@code x * (zeros + y)}: a broadcast add and a same-shape multiply, whose backward passes are a reduction
     * and two element-wise products, instead of M2.1's slow broadcasting {@code multiply_bp}.
     */
    private SDVariable broadcastMul(SDVariable x, SDVariable shapeOfX, SDVariable y) {
        return x.mul(sd.fill(shapeOfX, dtype, 0.0).add(y));
    }

    /**
     * {@code nn.LayerNorm(dim, eps, elementwise_affine=affine)} over the last dimension of a rank-3 input
     * {@code [B, S, dim]} (use {@link SDVariable#reshape} for other ranks). Broadcast products are written as in
     * {@link #groupNorm(SDVariable, SDVariable, SDVariable, int, int, double)}.
     */
    public SDVariable layerNorm(String prefix, SDVariable x, int dim, double eps, boolean affine) {
        SDVariable shape = x.shape();
        SDVariable xc = x.sub(x.mean(true, 2));
        SDVariable rstd = sd.math().rsqrt(xc.mul(xc).mean(true, 2).add(eps));                 // [B, S, 1]
        SDVariable zeros = sd.fill(shape, dtype, 0.0);
        SDVariable y = xc.mul(zeros.add(rstd));
        if (affine) {
            SDVariable gamma = param(prefix + ".weight", Nd4j.ones(dtype, dim));
            SDVariable beta = param(prefix + ".bias", Nd4j.zeros(dtype, dim));
            y = y.mul(zeros.add(gamma)).add(beta);
        }
        return y;
    }

    /** SiLU / swish: {@code x * sigmoid(x)}. */
    public SDVariable silu(SDVariable x) {
        return sd.nn().swish(x);
    }

    /** Exact (erf) GELU, PyTorch's default {@code nn.GELU()}. */
    public SDVariable gelu(SDVariable x) {
        // SameDiff's gelu/preciseGelu are tanh/sigmoid approximations (3e-3 off PyTorch's erf form)
        return x.mul(sd.math().erf(x.mul(Math.sqrt(0.5))).add(1.0)).mul(0.5);
    }

    public SDVariable relu(SDVariable x) {
        return sd.nn().relu(x, 0.0);
    }

    /** Nearest-neighbour 2× upsampling of NCHW input ({@code F.interpolate(scale_factor=2, mode="nearest")}). */
    public SDVariable upsampleNearest2x(SDVariable x) {
        return sd.cnn().upsampling2d(x, 2, 2, true);
    }

    /** Mean over all elements of {@code (a - b)^2} ({@code F.mse_loss}). */
    public SDVariable mseLoss(String name, SDVariable prediction, SDVariable target) {
        SDVariable d = prediction.sub(target);
        return d.mul(d).mean().rename(name);
    }

    /** Mean over all elements of {@code |a - b|} ({@code F.l1_loss}). */
    public SDVariable l1Loss(String name, SDVariable prediction, SDVariable target) {
        return sd.math().abs(prediction.sub(target)).mean().rename(name);
    }
}
