package dev.avatartrain.tensors;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import dev.avatartrain.storage.AtomicFiles;

/**
 * Writes one float32 tensor as {@code torch.save(tensor, f)} does (the zip format of PyTorch ≥ 1.6): {@code data.pkl}
 * is a protocol-2 pickle of {@code torch._utils._rebuild_tensor_v2} over a persistent {@code FloatStorage} stored as
 * {@code data/0}. For sample data and tests ({@code synth --adapter}); no Java library writes this format, hence by
 * hand. {@code torch.load} and {@link TorchFiles} read it.
 */
public final class TorchWriter {
    private TorchWriter() {}

    public static void writeTensor(Path file, INDArray tensor) throws IOException {
        AtomicFiles.write(file, out -> writeTensor(out, tensor));
    }

    public static void writeTensor(OutputStream out, INDArray tensor) throws IOException {
        INDArray t = tensor.castTo(DataType.FLOAT).dup('c');
        float[] v = t.data().asFloat();
        ByteBuffer data = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) data.putFloat(x);
        String root = "archive/";
        ZipOutputStream zip = new ZipOutputStream(out);
        stored(zip, root + "data.pkl", pickle(t.shape(), v.length));
        stored(zip, root + "byteorder", "little".getBytes(StandardCharsets.US_ASCII));
        stored(zip, root + "data/0", data.array());
        stored(zip, root + "version", "3\n".getBytes(StandardCharsets.US_ASCII));
        zip.finish();
    }

    private static void stored(ZipOutputStream zip, String name, byte[] bytes) throws IOException {
        ZipEntry e = new ZipEntry(name);
        e.setMethod(ZipEntry.STORED);
        e.setSize(bytes.length);
        CRC32 crc = new CRC32();
        crc.update(bytes);
        e.setCrc(crc.getValue());
        zip.putNextEntry(e);
        zip.write(bytes);
        zip.closeEntry();
    }

    /** {@code _rebuild_tensor_v2(persistent('storage', FloatStorage, '0', 'cpu', numel), 0, shape, stride, False, OrderedDict())}. */
    private static byte[] pickle(long[] shape, long numel) {
        ByteArrayOutputStream p = new ByteArrayOutputStream();
        p.write(0x80);
        p.write(2); // PROTO 2
        global(p, "torch._utils", "_rebuild_tensor_v2");
        p.write('('); // MARK: the arguments
        p.write('(');
        unicode(p, "storage");
        global(p, "torch", "FloatStorage");
        unicode(p, "0");
        unicode(p, "cpu");
        integer(p, numel);
        p.write('t'); // TUPLE
        p.write('Q'); // BINPERSID
        integer(p, 0); // storage offset
        p.write('(');
        for (long d : shape) integer(p, d);
        p.write('t');
        p.write('(');
        long stride = 1;
        long[] strides = new long[shape.length];
        for (int i = shape.length - 1; i >= 0; i--) {
            strides[i] = stride;
            stride *= shape[i];
        }
        for (long s : strides) integer(p, s);
        p.write('t');
        p.write(0x89); // NEWFALSE: requires_grad
        global(p, "collections", "OrderedDict");
        p.write(')'); // EMPTY_TUPLE
        p.write('R'); // REDUCE: OrderedDict() (backward hooks)
        p.write('t');
        p.write('R'); // REDUCE: _rebuild_tensor_v2(*args)
        p.write('.'); // STOP
        return p.toByteArray();
    }

    private static void global(ByteArrayOutputStream p, String module, String name) {
        p.write('c');
        p.writeBytes((module + "\n" + name + "\n").getBytes(StandardCharsets.US_ASCII));
    }

    private static void unicode(ByteArrayOutputStream p, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        p.write('X');
        p.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(b.length).array());
        p.writeBytes(b);
    }

    private static void integer(ByteArrayOutputStream p, long v) {
        if (v < 0 || v > Integer.MAX_VALUE) throw new IllegalArgumentException("tensor too large for this writer: " + v);
        p.write('J'); // BININT
        p.writeBytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) v).array());
    }
}
