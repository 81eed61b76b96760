package dev.avatartrain.tensors;

import org.bytedeco.javacpp.BooleanPointer;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.ShortPointer;
import org.bytedeco.javacpp.indexer.Bfloat16Indexer;
import org.bytedeco.javacpp.indexer.BooleanIndexer;
import org.bytedeco.javacpp.indexer.ByteIndexer;
import org.bytedeco.javacpp.indexer.DoubleIndexer;
import org.bytedeco.javacpp.indexer.FloatIndexer;
import org.bytedeco.javacpp.indexer.HalfIndexer;
import org.bytedeco.javacpp.indexer.Indexer;
import org.bytedeco.javacpp.indexer.IntIndexer;
import org.bytedeco.javacpp.indexer.LongIndexer;
import org.bytedeco.javacpp.indexer.ShortIndexer;
import org.bytedeco.javacpp.indexer.UByteIndexer;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** ND4J arrays whose memory is not filled on allocation: for arrays that are about to be overwritten whole. */
public final class NativeArrays {
    private NativeArrays() {}

    /** Arrays at least this large get memory of their own (see {@link #uninitialized}). */
    private static final long OWN_MEMORY_BYTES = 1 << 20;

    /**
     * A new C-order array of {@code dtype} and {@code shape}, uninitialised.
     *
     * <p>{@code Nd4j.createUninitialized} is not free in M2.1: it took 0.7–1.4 s for a 1 GiB float array here
     * (as long as {@code Nd4j.create}, which zero-fills), more than reading the data. Large arrays therefore get a
     * plain JavaCPP allocation (untouched pages, faulted in by the read itself, as numpy's {@code np.empty})
     * wrapped in an ND4J buffer through the public {@code Nd4j.createBuffer(Pointer, ...)}. The buffer holds that
     * pointer object, so the memory is freed by JavaCPP's deallocator when the buffer is unreachable. If
     * JavaCPP's own memory limit ({@code org.bytedeco.javacpp.maxBytes}, by default the heap size) refuses the
     * allocation, ND4J's allocator is used.
     */
    public static INDArray uninitialized(DataType dtype, long... shape) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        if (n * dtype.width() >= OWN_MEMORY_BYTES) {
            try {
                INDArray own = allocateOwn(dtype, n, shape);
                if (own != null) return own;
            } catch (OutOfMemoryError e) {
                // JavaCPP's accounting limit, not the heap: fall through to ND4J's allocator
            }
        }
        return Nd4j.createUninitialized(dtype, shape, 'c');
    }

    private static INDArray allocateOwn(DataType type, long n, long[] shape) {
        Pointer p;
        Indexer idx;
        switch (type) {
            case FLOAT -> { FloatPointer f = new FloatPointer(n); p = f; idx = FloatIndexer.create(f); }
            case DOUBLE -> { DoublePointer d = new DoublePointer(n); p = d; idx = DoubleIndexer.create(d); }
            case HALF -> { ShortPointer h = new ShortPointer(n); p = h; idx = HalfIndexer.create(h); }
            case BFLOAT16 -> { ShortPointer h = new ShortPointer(n); p = h; idx = Bfloat16Indexer.create(h); }
            case LONG -> { LongPointer l = new LongPointer(n); p = l; idx = LongIndexer.create(l); }
            case INT -> { IntPointer i = new IntPointer(n); p = i; idx = IntIndexer.create(i); }
            case SHORT -> { ShortPointer h = new ShortPointer(n); p = h; idx = ShortIndexer.create(h); }
            case BYTE -> { BytePointer b = new BytePointer(n); p = b; idx = ByteIndexer.create(b); }
            case UBYTE -> { BytePointer b = new BytePointer(n); p = b; idx = UByteIndexer.create(b); }
            case BOOL -> { BooleanPointer b = new BooleanPointer(n); p = b; idx = BooleanIndexer.create(b); }
            default -> { return null; }
        }
        DataBuffer buf = Nd4j.createBuffer(p, type, n, idx);
        return Nd4j.create(buf, shape, Nd4j.getStrides(shape, 'c'), 0, 'c', type);
    }
}
