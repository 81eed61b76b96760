package dev.avatartrain.models.kernels;

import java.nio.FloatBuffer;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.indexer.FloatIndexer;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import dev.avatartrain.tensors.NativeArrays;

/**
 * Float32 buffer access, the kernels' output arrays and parallel loops shared by the kernels. Outputs of 1 MB and
 * more get native memory of their own ({@link Owned}), which the {@link Tape} hands back as soon as the backward pass
 * has consumed it ({@link #release}) instead of waiting for a collection of its Java wrapper. Handed-back memory is
 * kept for the next output of the same size (up to {@link #POOL_BYTES}): a training step allocates the same shapes
 * every time, so after the first step its outputs reuse the previous step's memory. Freeing it instead let the
 * resident set grow step to step ("bench" UNet 3.5 → 6.0 GB over 5 steps: glibc's malloc raises its mmap threshold
 * after large frees and then serves those sizes from arenas that fragment, docs/benchmarks.md).
 */
final class Buffers {
    private Buffers() {
    }

    /** Outputs at least this large get memory of their own. */
    private static final long OWN_BYTES = 1 << 20;

    /** Native memory a kernel allocated for one output array: only such memory is ever handed back. */
    private static final class Owned extends FloatPointer {
        /** Whether it waits in the pool (handed back, no array may use it). */
        boolean pooled;

        Owned(long n) {
            super(n);
        }
    }

    /** Most bytes of handed-back memory kept for reuse (beyond it, memory is freed); -Davatartrain.kernels.poolBytes. */
    static final long POOL_BYTES = Long.getLong("avatartrain.kernels.poolBytes", 4L << 30);
    private static final Map<Long, ArrayDeque<Owned>> POOL = new HashMap<>();
    private static long pooledBytes;

    /** Handed-back memory of {@code n} floats, or null. */
    private static synchronized Owned reuse(long n) {
        ArrayDeque<Owned> free = POOL.get(n);
        Owned p = free == null ? null : free.poll();
        if (p != null) {
            p.pooled = false;
            pooledBytes -= n * Float.BYTES;
        }
        return p;
    }

    private static synchronized void handBack(Owned p) {
        long bytes = p.capacity() * Float.BYTES;
        if (pooledBytes + bytes > POOL_BYTES) {
            p.deallocate();
            return;
        }
        p.pooled = true;
        pooledBytes += bytes;
        POOL.computeIfAbsent(p.capacity(), k -> new ArrayDeque<>()).push(p);
    }

    /** Frees all handed-back memory waiting for reuse; returns its bytes. */
    static synchronized long freePool() {
        long bytes = pooledBytes;
        for (ArrayDeque<Owned> free : POOL.values()) {
            for (Owned p : free) {
                p.deallocate();
            }
        }
        POOL.clear();
        pooledBytes = 0;
        return bytes;
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
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        if (n * Float.BYTES >= OWN_BYTES) {
            try {
                Owned p = reuse(n);
                if (p == null) {
                    p = new Owned(n);
                }
                DataBuffer buf = Nd4j.createBuffer(p, DataType.FLOAT, n, FloatIndexer.create(p));
                return Nd4j.create(buf, shape, Nd4j.getStrides(shape, 'c'), 0, 'c', DataType.FLOAT);
            } catch (OutOfMemoryError e) {
                // JavaCPP's accounting limit (by default the heap size), not the heap: ND4J's allocator below
            }
        }
        return NativeArrays.uninitialized(DataType.FLOAT, shape);
    }

    /** The buffer that owns {@code a}'s memory (a view's buffer may wrap its parent's). */
    private static DataBuffer root(INDArray a) {
        DataBuffer d = a.data();
        for (int i = 0; i < 8; i++) {
            DataBuffer up = d.underlyingDataBuffer() != null && d.underlyingDataBuffer() != d ? d.underlyingDataBuffer()
                    : d.originalDataBuffer() != null && d.originalDataBuffer() != d ? d.originalDataBuffer() : null;
            if (up == null) {
                break;
            }
            d = up;
        }
        return d;
    }

    /** Whether {@code a} and {@code b} are (views of) the same memory. */
    static boolean sameMemory(INDArray a, INDArray b) {
        return a != null && b != null && !a.isEmpty() && !b.isEmpty() && root(a).pointer() == root(b).pointer();
    }

    /** Whether {@code a}'s memory was handed back and waits in the pool (for tests). */
    static synchronized boolean handedBack(INDArray a) {
        return a != null && !a.isEmpty() && root(a).pointer() instanceof Owned p && p.pooled;
    }

    /**
     * Hands {@code a}'s memory back now if a kernel allocated it ({@link #empty}) and it was not handed back yet;
     * returns its bytes. The caller guarantees that nothing reads or writes {@code a}, or any view of its memory,
     * afterwards (the next output of that size gets it).
     */
    static long release(INDArray a) {
        if (a == null || a.isEmpty() || !(root(a).pointer() instanceof Owned p)) {
            return 0;
        }
        synchronized (Buffers.class) {
            if (p.pooled || p.isNull()) {
                return 0;
            }
            long bytes = p.capacity() * Float.BYTES;
            handBack(p);
            return bytes;
        }
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
