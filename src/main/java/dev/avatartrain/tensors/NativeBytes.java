package dev.avatartrain.tensors;

import org.bytedeco.javacpp.BytePointer;
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
