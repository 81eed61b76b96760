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

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;

/**
 * Bulk copies between files or byte buffers and the native memory of ND4J arrays, in chunks so arrays and
 * files larger than 2 GiB work (Java buffers are int-indexed).
 */
final class NativeBytes {
    private static final int CHUNK = 1 << 28;

    private NativeBytes() {}

    /** Arrays at least this large get memory of their own (see {@link #allocate}). */
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
    static INDArray allocate(DType dtype, long[] shape) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        if (n * dtype.size >= OWN_MEMORY_BYTES) {
            try {
                INDArray own = allocateOwn(dtype.nd4j, n, shape);
                if (own != null) return own;
            } catch (OutOfMemoryError e) {
                // JavaCPP's accounting limit, not the heap: fall through to ND4J's allocator
            }
        }
        return Nd4j.createUninitialized(dtype.nd4j, shape, 'c');
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

    static long byteLength(DType dtype, long[] shape) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return Math.multiplyExact(n, dtype.size);
    }

    /**
     * Fills {@code arr} (fresh, C order) from {@code length} bytes of {@code ch} at {@code offset}. Data in native
     * byte order is read straight into the array's memory (one copy, like numpy's {@code readinto}); data that
     * needs byte swapping is memory-mapped and swapped while copied.
     */
    static void fill(INDArray arr, FileChannel ch, long offset, long length, ByteOrder order, int elementSize) throws IOException {
        if (order == ByteOrder.nativeOrder() || elementSize == 1) {
            for (long done = 0; done < length; ) {
                int n = (int) Math.min(CHUNK, length - done);
                ByteBuffer dst = target(arr, done, n).slice(); // position 0 .. n
                while (dst.hasRemaining()) {
                    int got = ch.read(dst, offset + done + dst.position());
                    if (got < 0) throw new java.io.EOFException("end of file after " + (done + dst.position()) + " of " + length + " bytes");
                }
                done += n;
            }
            return;
        }
        for (long done = 0; done < length; ) {
            int n = (int) Math.min(CHUNK, length - done);
            ByteBuffer src = ch.map(FileChannel.MapMode.READ_ONLY, offset + done, n);
            copy(src, target(arr, done, n), order, elementSize);
            done += n;
        }
    }

    /** Fills {@code arr} from exactly {@code length} bytes of {@code in}. */
    static void fill(INDArray arr, InputStream in, long length, ByteOrder order, int elementSize, String file) throws IOException {
        byte[] buf = new byte[(int) Math.min(1 << 20, Math.max(length, 1))];
        for (long done = 0; done < length; ) {
            int want = (int) Math.min(buf.length, length - done);
            int got = in.readNBytes(buf, 0, want);
            if (got < want)
                throw new dev.avatartrain.errors.BadInputException(file + ": truncated: expected " + length + " bytes of tensor data, found " + (done + got) + ".");
            copy(ByteBuffer.wrap(buf, 0, got), target(arr, done, got), order, elementSize);
            done += got;
        }
    }

    /** Fills {@code arr} from the remaining bytes of {@code src}. */
    static void fill(INDArray arr, ByteBuffer src, ByteOrder order, int elementSize) {
        long length = src.remaining();
        for (long done = 0; done < length; ) {
            int n = (int) Math.min(CHUNK, length - done);
            ByteBuffer part = src.slice(src.position() + (int) done, n);
            copy(part, target(arr, done, n), order, elementSize);
            done += n;
        }
    }

    /** The array's bytes (C order, little-endian) as consecutive buffers of at most 256 MiB. */
    static void forEachChunk(INDArray arr, java.util.function.Consumer<ByteBuffer> body) {
        INDArray c = arr.isView() || arr.ordering() != 'c' ? arr.dup('c') : arr;
        long length = c.length() * c.data().getElementSize();
        for (long done = 0; done < length; ) {
            int n = (int) Math.min(CHUNK, length - done);
            body.accept(target(c, done, n).order(ByteOrder.LITTLE_ENDIAN));
            done += n;
        }
    }

    private static ByteBuffer target(INDArray arr, long byteOffset, int n) {
        BytePointer p = new BytePointer(arr.data().pointer());
        long base = arr.offset() * arr.data().getElementSize();
        p.position(base + byteOffset).limit(base + byteOffset + n);
        return p.asByteBuffer().order(ByteOrder.nativeOrder());
    }

    private static void copy(ByteBuffer src, ByteBuffer dst, ByteOrder order, int elementSize) {
        if (order == ByteOrder.nativeOrder() || elementSize == 1) {
            dst.put(src);
            return;
        }
        src.order(order);
        switch (elementSize) {
            case 2 -> dst.asShortBuffer().put(src.asShortBuffer());
            case 4 -> dst.asIntBuffer().put(src.asIntBuffer());
            case 8 -> dst.asLongBuffer().put(src.asLongBuffer());
            default -> throw new IllegalArgumentException("element size " + elementSize);
        }
    }

    /** Writes the array's bytes (native order, C order of its buffer) to {@code out} in 1 MiB chunks. */
    static void writeTo(java.io.OutputStream out, INDArray a) throws java.io.IOException {
        if (a.length() == 0) return;
        byte[] buf = new byte[1 << 20];
        java.io.IOException[] failure = new java.io.IOException[1];
        forEachChunk(a, chunk -> {
            try {
                while (chunk.hasRemaining() && failure[0] == null) {
                    int n = Math.min(buf.length, chunk.remaining());
                    chunk.get(buf, 0, n);
                    out.write(buf, 0, n);
                }
            } catch (java.io.IOException e) {
                failure[0] = e;
            }
        });
        if (failure[0] != null) throw failure[0];
    }
}
