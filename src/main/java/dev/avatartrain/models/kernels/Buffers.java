package dev.avatartrain.models.kernels;

import java.nio.FloatBuffer;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import dev.avatartrain.tensors.NativeArrays;

/** Float32 buffer access and parallel loops shared by the kernels. */
final class Buffers {
    private Buffers() {
    }

    /** {@code a} itself if it is a dense C-order float32 array, else such a copy. */
    static INDArray dense(INDArray a) {
        if (a.dataType() == DataType.FLOAT && isDenseC(a)) {
            return a;
        }
        return a.castTo(DataType.FLOAT).dup('c');
    }

    /** The elements of a dense float32 array (see {@link #dense}) as a buffer indexed from 0. */
    static FloatBuffer floats(INDArray a) {
        if (a.dataType() != DataType.FLOAT || !isDenseC(a)) {
            throw new IllegalArgumentException("kernel needs a dense C-order float32 array, got " + a.shapeInfoToString());
        }
        FloatBuffer b = a.data().asNioFloat();
        b.position((int) a.offset());
        return b.slice();
    }

    /** Whether the elements lie contiguously in C order (dimensions of size 1 may carry any stride). */
    private static boolean isDenseC(INDArray a) {
        long expected = 1;
        for (int i = a.rank() - 1; i >= 0; i--) {
            if (a.size(i) != 1 && a.stride(i) != expected) {
                return false;
            }
            expected *= a.size(i);
        }
        return !a.isEmpty();
    }

    /** A float32 array of the whole shape, uninitialised (every kernel output is written in full). */
    static INDArray empty(long... shape) {
        return NativeArrays.uninitialized(DataType.FLOAT, shape);
    }

    /** All elements of {@code a} in C order, as a Java array. */
    static float[] toFloats(INDArray a) {
        float[] out = new float[(int) a.length()];
        floats(dense(a)).get(out);
        return out;
    }

    /**
     * {@code body(i)} for i in [0, n), in parallel on the current fork-join pool: the training engine runs a task's work
     * in a pool of the task's cores (TaskContext.cpus()), anything else on the common pool.
     */
    static void parallel(int n, IntConsumer body) {
        if (n == 1) {
            body.accept(0);
        } else {
            IntStream.range(0, n).parallel().forEach(body);
        }
    }

    /** Splits [0, n) into about {@code 4 × cores} chunks; returns the chunk count (see {@link #chunkStart}). */
    static int chunks(int n) {
        return Math.max(1, Math.min(n, 4 * cores()));
    }

    /** The cores parallel loops run on here: the current fork-join pool's, else the machine's. */
    static int cores() {
        java.util.concurrent.ForkJoinPool pool = java.util.concurrent.ForkJoinTask.getPool();
        return pool != null ? pool.getParallelism() : Runtime.getRuntime().availableProcessors();
    }

    static int chunkStart(int chunk, int chunks, int n) {
        return (int) ((long) n * chunk / chunks);
    }
}
