package dev.avatartrain.models.nn;

import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A network's parameters by PyTorch name, in declaration order. A network declares them by running its definition
 * once ({@link DefinedNetwork}): each named layer asks for its parameters, which are created on first request with
 * PyTorch's default initialisation (uniform ±1/√fan_in for convolution and linear weights and biases, drawn in order
 * from one seeded generator; ones and zeros for norms). After that the set is sealed: the backends only look
 * parameters up.
 */
public final class Parameters {
    private static final int BLOCK = 1 << 16;
    private final DataType dtype;
    private final Random random;
    private final Map<String, INDArray> arrays = new LinkedHashMap<>();
    private boolean sealed;

    Parameters(DataType dtype, long seed) {
        this.dtype = dtype;
        this.random = new Random(seed);
    }

    public DataType dataType() {
        return dtype;
    }

    /** The parameter {@code name}, declared uniform in ±{@code bound} if it is new. */
    public INDArray uniform(String name, double bound, long... shape) {
        INDArray a = existing(name, shape);
        if (a != null) {
            return a;
        }
        // drawn in blocks straight into the array's buffer: element-wise putScalar took most of a big network's build
        // time, and one Java array of the whole tensor put up to 100 MB on the heap of a driver that holds the state
        long n = Arrays.stream(shape).reduce(1, Math::multiplyExact);
        int block = (int) Math.min(n, BLOCK);
        if (dtype == DataType.FLOAT) { // (float) of the double draw: what castTo(FLOAT) gives, without the double array
            INDArray a0 = Nd4j.createUninitialized(DataType.FLOAT, shape, 'c');
            java.nio.FloatBuffer to = a0.data().asNioFloat();
            float[] v = new float[block];
            for (long at = 0; at < n; at += block) {
                int m = (int) Math.min(block, n - at);
                for (int i = 0; i < m; i++) v[i] = (float) ((random.nextDouble() * 2 - 1) * bound);
                to.put(v, 0, m);
            }
            return declare(name, a0);
        }
        INDArray d = Nd4j.createUninitialized(DataType.DOUBLE, shape, 'c');
        java.nio.DoubleBuffer to = d.data().asNioDouble();
        double[] v = new double[block];
        for (long at = 0; at < n; at += block) {
            int m = (int) Math.min(block, n - at);
            for (int i = 0; i < m; i++) v[i] = (random.nextDouble() * 2 - 1) * bound;
            to.put(v, 0, m);
        }
        return declare(name, d.castTo(dtype));
    }

    /** The parameter {@code name}, declared filled with {@code value} if it is new. */
    public INDArray filled(String name, double value, long... shape) {
        INDArray a = existing(name, shape);
        return a != null ? a : declare(name, Nd4j.valueArrayOf(shape, value, dtype));
    }

    private INDArray existing(String name, long[] shape) {
        INDArray a = arrays.get(name);
        if (a != null && !Arrays.equals(a.shape(), shape)) {
            throw new IllegalStateException("parameter " + name + " is " + Arrays.toString(a.shape())
                    + ", asked for as " + Arrays.toString(shape));
        }
        if (a == null && sealed) {
            throw new IllegalStateException("parameter " + name + " was not declared by the network's definition");
        }
        return a;
    }

    INDArray declare(String name, INDArray value) {
        arrays.put(name, value);
        return value;
    }

    /** The live array of {@code name}. */
    public INDArray get(String name) {
        INDArray a = arrays.get(name);
        if (a == null) {
            throw new IllegalStateException("the network has no parameter " + name);
        }
        return a;
    }

    /** name → live array, in declaration order (unmodifiable map; the arrays are the network's own). */
    public Map<String, INDArray> asMap() {
        return Collections.unmodifiableMap(arrays);
    }

    void seal() {
        sealed = true;
    }

    /** Makes {@code name} the given array (the graph backend's own copy). */
    void rebind(String name, INDArray array) {
        get(name);
        arrays.put(name, array);
    }
}
