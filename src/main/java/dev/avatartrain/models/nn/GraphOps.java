package dev.avatartrain.models.nn;

import java.util.HashMap;
import java.util.Map;

import dev.avatartrain.models.kernels.Activation;
import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.enums.PadMode;
import org.nd4j.enums.WeightsFormat;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.Conv2DConfig;
import org.nd4j.linalg.api.ops.impl.layers.convolution.config.PaddingMode;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link Ops} as a SameDiff graph: inputs are placeholders, parameters the graph's variables (named as in
 * PyTorch), built once and run many times. Sizes fixed only by the data are taken from the tensors' shapes at run
 * time.
 */
final class GraphOps implements Ops<SDVariable> {
    private final SameDiff sd;
    private final Parameters parameters;
    private final DataType dtype;
    private final Map<String, SDVariable> inputs = new HashMap<>();
    private final Map<String, SDVariable> vars = new HashMap<>();

    GraphOps(SameDiff sd, Parameters parameters) {
        this.sd = sd;
        this.parameters = parameters;
        this.dtype = parameters.dataType();
    }

    @Override
    public SDVariable input(String name, long... shape) {
        return inputs.computeIfAbsent(name, n -> sd.placeHolder(n, dtype, shape));
    }

    @Override
    public SDVariable parameter(String name) {
        return vars.computeIfAbsent(name, n -> sd.var(n, parameters.get(n)));
    }

    @Override
    public Parameters parameters() {
        return parameters;
    }

    private long staticSize(SDVariable param, int dim) {
        return parameters.get(param.name()).size(dim);
    }

    @Override
    public SDVariable conv2d(SDVariable x, SDVariable weight, SDVariable bias, int stride, int pad) {
        int k = (int) staticSize(weight, 2);
        // SameDiff's conv2d (and its backward pass) works with YXIO weights in M2.1; OIYX fails in conv2d_bp.
        SDVariable w = weight.permute(2, 3, 1, 0);
        Conv2DConfig cfg = Conv2DConfig.builder().kH(k).kW(k).sH(stride).sW(stride).pH(pad).pW(pad).dH(1).dW(1)
                .paddingMode(PaddingMode.VALID).dataFormat("NCHW").weightsFormat(WeightsFormat.YXIO).build();
        return bias == null ? sd.cnn().conv2d(x, w, cfg) : sd.cnn().conv2d(x, w, bias, cfg);
    }

    @Override
    public SDVariable linear(SDVariable x, SDVariable weight, SDVariable bias) {
        long out = staticSize(weight, 0);
        long in = staticSize(weight, 1);
        SDVariable w = parameters.get(weight.name()).rank() == 2 ? weight : weight.reshape(out, in);
        SDVariable shape = x.shape();
        // mmul with transB calls GEMM with the transpose flag: no materialised W^T.
        SDVariable y = sd.mmul(x.reshape(-1, in), w, false, true, false);
        if (bias != null) {
            y = y.add(bias);
        }
        return sd.reshape(y, sd.concat(0, shape.get(SDIndex.interval(0, -1)), longs(out)));
    }

    private SDVariable longs(long... v) {
        return sd.constant(Nd4j.createFromArray(v));
    }

    /**
     * Biased variance, eps inside the square root, as PyTorch. Written so that its backward pass has no broadcasting
     * {@code multiply}: in M2.1 {@code multiply_bp} with a broadcast operand costs 35–60 ms on a 12×64×32×32
     * activation, against ≈ 1 ms on equal shapes (docs/benchmarks.md, "Network layers"). So the mean is subtracted by
     * a broadcast subtract, and the per-(sample, channel) scale {@code gamma · rsqrt(var + eps)} — computed on the
     * small {@code [B, G, C/G]} tensor — is expanded by a broadcast add onto zeros, then multiplied element-wise.
     */
    @Override
    public SDVariable groupNorm(SDVariable x, SDVariable gamma, SDVariable beta, int groups, double eps,
                                Activation act) {
        long channels = staticSize(gamma, 0);
        SDVariable shape = x.shape();
        SDVariable g = sd.reshape(x, sd.concat(0, shape.get(SDIndex.interval(0, 1)), longs(groups, -1)));
        SDVariable xc = g.sub(g.mean(true, 2));
        SDVariable rstd = sd.math().rsqrt(xc.mul(xc).mean(true, 2).add(eps)); // [B, G, 1]
        SDVariable scale = rstd.mul(gamma.reshape(1, groups, channels / groups)).reshape(-1, channels, 1, 1);
        SDVariable y = broadcastMul(sd.reshape(xc, shape), shape, scale).add(beta.reshape(1, channels, 1, 1));
        return activation(y, act);
    }

    /** {@code x * y} as {@code x * (zeros + y)}: avoids M2.1's slow broadcasting {@code multiply_bp}. */
    private SDVariable broadcastMul(SDVariable x, SDVariable shapeOfX, SDVariable y) {
        return x.mul(sd.fill(shapeOfX, dtype, 0.0).add(y));
    }

    @Override
    public SDVariable layerNorm(SDVariable x, SDVariable gamma, SDVariable beta, double eps) {
        long d = staticSize(gamma, 0);
        SDVariable shape = x.shape();
        SDVariable rows = x.reshape(-1, d);
        SDVariable rowsShape = rows.shape();
        SDVariable xc = rows.sub(rows.mean(true, 1));
        SDVariable rstd = sd.math().rsqrt(xc.mul(xc).mean(true, 1).add(eps)); // [rows, 1]
        SDVariable y = broadcastMul(broadcastMul(xc, rowsShape, rstd), rowsShape, gamma).add(beta);
        return sd.reshape(y, shape);
    }

    @Override
    public SDVariable activation(SDVariable x, Activation act) {
        return switch (act) {
            case IDENTITY -> x;
            case SILU -> sd.nn().swish(x);
            // SameDiff's gelu/preciseGelu are tanh/sigmoid approximations (3e-3 off PyTorch's erf form)
            case GELU -> x.mul(sd.math().erf(x.mul(Math.sqrt(0.5))).add(1.0)).mul(0.5);
            case RELU -> sd.nn().relu(x, 0.0);
        };
    }

    @Override
    public SDVariable geglu(SDVariable proj, int hidden) {
        SDVariable shape = proj.shape();
        SDVariable rows = proj.reshape(-1, 2L * hidden);
        SDVariable value = rows.get(SDIndex.all(), SDIndex.interval(0, hidden));
        SDVariable gate = rows.get(SDIndex.all(), SDIndex.interval(hidden, 2 * hidden));
        SDVariable y = value.mul(activation(gate, Activation.GELU));
        return sd.reshape(y, sd.concat(0, shape.get(SDIndex.interval(0, -1)), longs(hidden)));
    }

    /** Batched matrix products over {@code [B, heads, tokens, d]}; the scale goes on Q, the smaller array. */
    @Override
    public SDVariable attention(SDVariable q, SDVariable k, SDVariable v, int heads, int headDim) {
        SDVariable qh = splitHeads(q, heads, headDim);
        SDVariable kh = splitHeads(k, heads, headDim);
        SDVariable vh = splitHeads(v, heads, headDim);
        SDVariable scores = sd.mmul(qh.mul(1.0 / Math.sqrt(headDim)), kh, false, true, false);
        SDVariable o = sd.mmul(sd.nn().softmax(scores, -1), vh); // [B, heads, n, d]
        return sd.reshape(o.permute(0, 2, 1, 3), q.shape());
    }

    /** {@code [B, n, heads·d] -> [B, heads, n, d]}. */
    private SDVariable splitHeads(SDVariable x, int heads, int headDim) {
        SDVariable s = x.shape();
        return sd.reshape(x, sd.concat(0, s.get(SDIndex.interval(0, 2)), longs(heads, headDim))).permute(0, 2, 1, 3);
    }

    @Override
    public SDVariable add(SDVariable a, SDVariable b) {
        return a.add(b);
    }

    @Override
    public SDVariable affine(SDVariable x, double a, double b) {
        SDVariable y = a == 1 ? x : x.mul(a);
        return b == 0 ? y : y.add(b);
    }

    @Override
    public SDVariable addPerChannel(SDVariable h, SDVariable t) {
        return h.add(sd.expandDims(sd.expandDims(t, 2), 3));
    }

    @Override
    public SDVariable concat(int axis, SDVariable a, SDVariable b) {
        return sd.concat(axis, a, b);
    }

    @Override
    public SDVariable padBottomRight(SDVariable x) {
        SDVariable pads = sd.constant(Nd4j.createFromArray(new int[][] {{0, 0}, {0, 0}, {0, 1}, {0, 1}}));
        return sd.nn().pad(x, pads, PadMode.CONSTANT, 0.0);
    }

    @Override
    public SDVariable upsample2x(SDVariable x) {
        return sd.cnn().upsampling2d(x, 2, 2, true);
    }

    @Override
    public SDVariable toTokens(SDVariable x) {
        SDVariable s = x.shape();
        SDVariable shape = sd.concat(0, s.get(SDIndex.interval(0, 1)), longs(-1), s.get(SDIndex.interval(1, 2)));
        return sd.reshape(x.permute(0, 2, 3, 1), shape);
    }

    @Override
    public SDVariable fromTokens(SDVariable tokens, SDVariable like) {
        SDVariable s = like.shape();
        SDVariable bhw = sd.concat(0, s.get(SDIndex.interval(0, 1)), s.get(SDIndex.interval(2, 4)), longs(-1));
        return sd.reshape(tokens, bhw).permute(0, 3, 1, 2);
    }

    @Override
    public SDVariable flatten(SDVariable x, int axis) {
        return sd.reshape(x, sd.concat(0, x.shape().get(SDIndex.interval(0, axis)), longs(-1)));
    }

    @Override
    public SDVariable splitLast(SDVariable x, int parts) {
        return sd.reshape(x, sd.concat(0, x.shape().get(SDIndex.interval(0, -1)), longs(parts, -1)));
    }

    @Override
    public SDVariable timestepEmbedding(SDVariable t, int dim, double shift, boolean flipSinToCos) {
        int half = dim / 2;
        // Frequencies computed in float32 exactly as diffusers does, so the (large) arguments agree.
        float[] freqs = new float[half];
        float logPeriod = (float) -Math.log(10000);
        float denom = (float) (half - shift);
        for (int i = 0; i < half; i++) {
            freqs[i] = (float) Math.exp((logPeriod * i) / denom);
        }
        SDVariable f = sd.constant(Nd4j.createFromArray(new float[][] {freqs}).castTo(dtype));
        SDVariable arg = t.reshape(-1, 1).mul(f);
        SDVariable sin = sd.math().sin(arg);
        SDVariable cos = sd.math().cos(arg);
        SDVariable emb = flipSinToCos ? sd.concat(1, cos, sin) : sd.concat(1, sin, cos);
        if (dim % 2 == 1) {
            emb = sd.concat(1, emb, arg.get(SDIndex.all(), SDIndex.interval(0, 1)).mul(0.0));
        }
        return emb;
    }

    @Override
    public SDVariable tanhClamp(SDVariable x, double limit) {
        return sd.math().tanh(x.div(limit)).mul(limit);
    }

    @Override
    public SDVariable mseLoss(SDVariable out, SDVariable target) {
        SDVariable d = out.sub(target);
        return d.mul(d).mean();
    }

    @Override
    public SDVariable l1Loss(SDVariable out, SDVariable target) {
        return sd.math().abs(out.sub(target)).mean();
    }

    @Override
    public SDVariable rowWeightedMse(SDVariable out, SDVariable target, SDVariable w) {
        SDVariable d = out.sub(target);
        SDVariable rows = sd.reshape(d.mul(d), sd.concat(0, w.shape(), longs(-1)));
        return rows.mean(w.getShape().length).mul(w).sum(); // w is a placeholder: its rank is known
    }

    /** The live arrays of the graph's variables, which {@link #parameter} created from {@link Parameters}. */
    INDArray array(String name) {
        return sd.getVariable(name).getArr();
    }
}
