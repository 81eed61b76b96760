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

    /** A new C-order array of {@code dtype} and {@code shape}, uninitialised. */
    static INDArray allocate(DType dtype, long[] shape) {
        return Nd4j.createUninitialized(dtype.nd4j, shape, 'c');
    }

    static long byteLength(DType dtype, long[] shape) {
        long n = 1;
        for (long d : shape) n = Math.multiplyExact(n, d);
        return Math.multiplyExact(n, dtype.size);
    }

    /** Fills {@code arr} (fresh, C order) from {@code length} bytes of {@code ch} at {@code offset}, memory-mapped. */
    static void fill(INDArray arr, FileChannel ch, long offset, long length, ByteOrder order, int elementSize) throws IOException {
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
}
