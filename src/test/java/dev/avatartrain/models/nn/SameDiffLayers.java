package dev.avatartrain.models.nn;

import java.util.ArrayList;
import java.util.List;

import dev.avatartrain.models.kernels.Activation;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The graph backend's layers on a bare SameDiff graph, for the benchmarks that time SameDiff formulations themselves
 * (bench/NormBench, bench/LayersBench): the same {@link GraphOps} the networks run on, plus free parameters.
 */
public final class SameDiffLayers {
    private final SameDiff sd = SameDiff.create();
    private final Parameters parameters;
    private final GraphOps ops;

    public SameDiffLayers(DataType dtype, long seed) {
        this.parameters = new Parameters(dtype, seed);
        this.ops = new GraphOps(sd, parameters);
    }

    public SameDiff sd() {
        return sd;
    }

    public DataType dataType() {
        return parameters.dataType();
    }

    public List<String> parameterNames() {
        return new ArrayList<>(parameters.asMap().keySet());
    }

    public SDVariable input(String name, long... shape) {
        return ops.input(name, shape);
    }

    /** A trainable variable {@code name} holding a copy of {@code init}. */
    public SDVariable param(String name, INDArray init) {
        parameters.declare(name, init.castTo(dataType()).dup());
        return ops.parameter(name);
    }

    public SDVariable conv2d(String prefix, SDVariable x, int in, int out, int k, int stride, int pad, boolean bias) {
        return ops.conv2d(prefix, x, in, out, k, stride, pad, bias);
    }

    public SDVariable linear(String prefix, SDVariable x, int in, int out, boolean bias) {
        return ops.linear(prefix, x, in, out, bias);
    }

    public SDVariable groupNorm(String prefix, SDVariable x, int groups, int channels, double eps) {
        return ops.groupNorm(prefix, x, groups, channels, eps, Activation.IDENTITY);
    }

    public SDVariable groupNorm(SDVariable x, SDVariable gamma, SDVariable beta, int groups, double eps) {
        return ops.groupNorm(x, gamma, beta, groups, eps, Activation.IDENTITY);
    }

    public SDVariable silu(SDVariable x) {
        return ops.activation(x, Activation.SILU);
    }
}
