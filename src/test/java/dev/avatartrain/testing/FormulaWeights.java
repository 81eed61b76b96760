package dev.avatartrain.testing;

import java.util.Map;

import dev.avatartrain.models.nn.Network;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Weights computed from a tensor's name, identically here and in {@code src/test/scripts/formula_weights.py}, so that
 * fixtures of networks at real widths store inputs and outputs only, not hundreds of MB of weights. Element {@code i}
 * of the tensor named {@code N} is {@code splitmix64(fnv1a64(N) + (i + 1) · 0x9E3779B97F4A7C15)}; its top 24 bits
 * {@code k} give {@code v = (2k - 2^24) / 2^24} in [-1, 1) (exact in float), and the value is
 * {@code offset + scale · v} in float: biases 0 + 0.1·v, other 1-D norm weights 1 + 0.1·v, tensors of two or more
 * dimensions {@code sqrt(3 / fan_in)·v} with {@code fan_in = numel / shape[0]}.
 */
public final class FormulaWeights {
    private FormulaWeights() {
    }

    /** The values of the tensor named {@code name} with PyTorch shape {@code shape}, in row-major order. */
    public static float[] values(String name, long[] shape) {
        long n = 1;
        for (long s : shape) n *= s;
        float offset = 0f;
        float scale;
        if (name.endsWith(".bias")) {
            scale = 0.1f;
        } else if (shape.length == 1) {
            scale = 0.1f;
            if (name.contains("norm")) offset = 1f;
        } else {
            scale = (float) Math.sqrt(3.0 / (n / shape[0]));
        }
        long seed = fnv1a64(name);
        float[] out = new float[Math.toIntExact(n)];
        for (int i = 0; i < out.length; i++) {
            long k = mix(seed + (i + 1L) * 0x9E3779B97F4A7C15L) >>> 40;
            float v = (float) (2 * k - (1L << 24)) * 0x1p-24f;
            out[i] = offset == 0f ? scale * v : offset + scale * v;
        }
        return out;
    }

    /** Sets every parameter of {@code net} (named and shaped as in PyTorch) to its formula values. */
    public static void fill(Network net) {
        for (Map.Entry<String, INDArray> e : net.parameters().entrySet()) {
            INDArray p = e.getValue();
            p.assign(Nd4j.createFromArray(values(e.getKey(), p.shape())).reshape(p.shape()).castTo(p.dataType()));
        }
    }

    /** The formula's tensor as an INDArray of {@code dtype}. */
    public static INDArray array(String name, long[] shape, DataType dtype) {
        return Nd4j.createFromArray(values(name, shape)).reshape(shape).castTo(dtype);
    }

    static long fnv1a64(String name) {
        long h = 0xcbf29ce484222325L;
        for (byte b : name.getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
            h = (h ^ (b & 0xff)) * 0x100000001b3L;
        }
        return h;
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
