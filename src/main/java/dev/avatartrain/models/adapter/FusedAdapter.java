package dev.avatartrain.models.adapter;

import java.util.LinkedHashMap;
import java.util.Map;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

import dev.avatartrain.tensors.NativeArrays;

/**
 * The adapter's forward pass, loss and backward pass written out by hand with {@code Nd4j.gemm} (transpose flags, no
 * materialised transposes) — the same computation as {@link AudioProjModel}'s SameDiff graph, which it is tested
 * against. SameDiff's {@code mmul} backward on the adapter's wide, short matrices ({@code [40, 73728] × [73728, 512]})
 * costs several times the GEMMs themselves (DESIGN.md §4), so training uses this path.
 *
 * <p>Works on the model's live parameter arrays, in the graph's data type; every returned array is new.
 */
final class FusedAdapter {
    private final AudioProjConfig c;

    FusedAdapter(AudioProjConfig c) {
        this.c = c;
    }

    /** What one pass computed: output {@code [B, N, tokens, dim]}, the loss (NaN without a target), gradients. */
    record Result(INDArray out, double loss, Map<String, INDArray> gradients) {
    }

    private static INDArray contiguous(INDArray a, DataType dt) {
        INDArray x = a.dataType() == dt ? a : a.castTo(dt);
        return x.isView() || x.ordering() != 'c' ? x.dup('c') : x;
    }

    /** {@code x W^T + b} for PyTorch-layout {@code W [out, in]}. */
    private static INDArray linear(INDArray x, INDArray w, INDArray b) {
        INDArray y = NativeArrays.uninitialized(x.dataType(), x.size(0), w.size(0));
        Nd4j.gemm(x, w, y, false, true, 1.0, 0.0);
        return y.addiRowVector(b);
    }

    /**
     * @param ph       the placeholders ({@code audio_embeds}, {@code audio_embeds_vf}; {@code target}, {@code mask},
     *                 {@code weight} for the loss)
     * @param params   the model's parameters by PyTorch name
     * @param backward whether to compute the loss's gradients (needs the training placeholders)
     */
    Result run(Map<String, INDArray> ph, Map<String, INDArray> params, boolean withLoss, boolean backward) {
        INDArray w1 = params.get("proj1.weight");
        DataType dt = w1.dataType();
        int inter = c.intermediateDim();
        int kd = c.contextTokens() * c.outputDim();
        int dim = c.outputDim();
        INDArray first = ph.get(AudioProjModel.AUDIO_EMBEDS);
        INDArray later = ph.get(AudioProjModel.AUDIO_EMBEDS_VF);
        long b = first.size(0);
        long n1 = later.size(1);
        long n = n1 + 1;
        INDArray x1 = contiguous(first, dt).reshape('c', b, c.inputDim());
        INDArray xv = contiguous(later, dt).reshape('c', b * n1, c.inputDimVf());

        INDArray a1 = linear(x1, w1, params.get("proj1.bias"));
        INDArray av = linear(xv, params.get("proj1_vf.weight"), params.get("proj1_vf.bias"));
        INDArray h = Nd4j.create(dt, b * n, inter);
        INDArray h3 = h.reshape('c', b, n, inter);
        h3.get(NDArrayIndex.all(), NDArrayIndex.point(0), NDArrayIndex.all()).assign(Transforms.relu(a1, true));
        h3.get(NDArrayIndex.all(), NDArrayIndex.interval(1, n), NDArrayIndex.all())
                .assign(Transforms.relu(av, true).reshape('c', b, n1, inter));
        INDArray h2 = Transforms.relu(linear(h, params.get("proj2.weight"), params.get("proj2.bias")), false);
        INDArray y = linear(h2, params.get("proj3.weight"), params.get("proj3.bias")); // [B*N, K*D]

        INDArray xhat = null;
        INDArray rstd = null;
        INDArray out;
        if (c.normOutputAudio()) {
            INDArray yr = y.reshape('c', b * n * c.contextTokens(), dim);
            INDArray mean = yr.mean(1);
            xhat = yr.subiColumnVector(mean);
            INDArray var = xhat.mul(xhat).mean(1);
            rstd = Transforms.pow(var.addi(AudioProjConfig.NORM_EPS), -0.5, false);
            xhat.muliColumnVector(rstd);
            out = xhat.mulRowVector(params.get("norm.weight")).addiRowVector(params.get("norm.bias"));
        } else {
            out = y;
        }
        INDArray out4 = out.reshape('c', b, n, c.contextTokens(), dim);
        if (!withLoss) {
            return new Result(out4, Double.NaN, null);
        }

        INDArray target = contiguous(ph.get(AudioProjModel.TARGET), dt).reshape('c', b * n, kd);
        INDArray coef = contiguous(ph.get(AudioProjModel.MASK), dt).mulColumnVector(
                contiguous(ph.get(AudioProjModel.WEIGHT), dt).reshape(b, 1)).reshape(b * n, 1); // [B*N, 1]
        double count = Math.max(1.0, ph.get(AudioProjModel.MASK).sumNumber().doubleValue());
        INDArray diff = out.reshape('c', b * n, kd).sub(target);
        INDArray perFrame = diff.mul(diff).mean(1).reshape(b * n, 1);
        double loss = perFrame.mul(coef).sumNumber().doubleValue() / count;
        if (!backward) {
            return new Result(out4, loss, null);
        }

        Map<String, INDArray> g = new LinkedHashMap<>();
        INDArray dOut = diff.muliColumnVector(coef.mul(2.0 / (kd * count))); // [B*N, K*D], reuses diff
        INDArray dy;
        INDArray dNormW = null;
        INDArray dNormB = null;
        if (c.normOutputAudio()) {
            INDArray d = dOut.reshape('c', b * n * c.contextTokens(), dim);
            dNormW = d.mul(xhat).sum(0);
            dNormB = d.sum(0);
            INDArray dxhat = d.mulRowVector(params.get("norm.weight"));
            INDArray m1 = dxhat.mean(1);
            INDArray m2 = dxhat.mul(xhat).mean(1);
            dy = dxhat.subiColumnVector(m1).subi(xhat.muliColumnVector(m2)).muliColumnVector(rstd)
                    .reshape('c', b * n, kd);
        } else {
            dy = dOut;
        }
        INDArray dW3 = NativeArrays.uninitialized(dt, kd, inter);
        Nd4j.gemm(dy, h2, dW3, true, false, 1.0, 0.0);
        INDArray dh2 = NativeArrays.uninitialized(dt, b * n, inter);
        Nd4j.gemm(dy, params.get("proj3.weight"), dh2, false, false, 1.0, 0.0);
        INDArray da2 = dh2.muli(h2.gt(0).castTo(dt));
        INDArray dW2 = NativeArrays.uninitialized(dt, inter, inter);
        Nd4j.gemm(da2, h, dW2, true, false, 1.0, 0.0);
        INDArray dh = NativeArrays.uninitialized(dt, b * n, inter);
        Nd4j.gemm(da2, params.get("proj2.weight"), dh, false, false, 1.0, 0.0);
        INDArray da = dh.muli(h.gt(0).castTo(dt)).reshape('c', b, n, inter);
        INDArray da1 = da.get(NDArrayIndex.all(), NDArrayIndex.point(0), NDArrayIndex.all()).dup('c');
        INDArray dav = da.get(NDArrayIndex.all(), NDArrayIndex.interval(1, n), NDArrayIndex.all()).dup('c')
                .reshape('c', b * n1, inter);
        INDArray dW1 = NativeArrays.uninitialized(dt, inter, c.inputDim());
        Nd4j.gemm(da1, x1, dW1, true, false, 1.0, 0.0);
        INDArray dWv = NativeArrays.uninitialized(dt, inter, c.inputDimVf());
        Nd4j.gemm(dav, xv, dWv, true, false, 1.0, 0.0);

        g.put("proj1.weight", dW1);
        g.put("proj1.bias", da1.sum(0));
        g.put("proj1_vf.weight", dWv);
        g.put("proj1_vf.bias", dav.sum(0));
        g.put("proj2.weight", dW2);
        g.put("proj2.bias", da2.sum(0));
        g.put("proj3.weight", dW3);
        g.put("proj3.bias", dy.sum(0));
        if (c.normOutputAudio()) {
            g.put("norm.weight", dNormW);
            g.put("norm.bias", dNormB);
        }
        return new Result(out4, loss, g);
    }
}
