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
 * Writes what {@code torch.save} writes (the zip format of PyTorch ≥ 1.6) for one float32 tensor ({@link #writeTensor})
 * or a state dict ({@link #writeStateDict}: an {@code OrderedDict} of name → tensor, as {@code torch.save(model.state_dict(), f)}
 * — MuseTalk's {@code pytorch_model.bin}). {@code data.pkl} is a protocol-2 pickle in which each tensor is
 * {@code torch._utils._rebuild_tensor_v2} over a persistent {@code FloatStorage}/{@code HalfStorage}/{@code BFloat16Storage}
 * stored as {@code data/<i>}. No Java library writes this format, hence by hand. {@code torch.load} and
 * {@link TorchFiles} read it.
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

    /**
     * Writes {@code tensors} (float32, float16 or bfloat16, in their own type) as {@code torch.save(OrderedDict(tensors), f)}:
     * loads with {@code torch.load} and {@code load_state_dict}. Streams one tensor at a time, so files over 4 GB (zip64) work.
     */
    public static void writeStateDict(Path file, java.util.Map<String, INDArray> tensors) throws IOException {
        AtomicFiles.write(file, out -> writeStateDict(out, tensors));
    }

    public static void writeStateDict(OutputStream out, java.util.Map<String, INDArray> tensors) throws IOException {
        ByteArrayOutputStream p = new ByteArrayOutputStream();
        p.write(0x80);
        p.write(2); // PROTO 2
        global(p, "collections", "OrderedDict");
        p.write(')');
        p.write('R'); // OrderedDict()
        p.write('('); // MARK: the items
        int key = 0;
        for (java.util.Map.Entry<String, INDArray> e : tensors.entrySet()) {
            DType dt = storable(e.getKey(), e.getValue());
            unicode(p, e.getKey());
            rebuild(p, e.getValue().shape(), e.getValue().length(), dt.torchStorage, String.valueOf(key++));
        }
        p.write('u'); // SETITEMS
        p.write('.'); // STOP
        String root = "archive/";
        ZipOutputStream zip = new ZipOutputStream(out);
        stored(zip, root + "data.pkl", p.toByteArray());
        stored(zip, root + "byteorder", "little".getBytes(StandardCharsets.US_ASCII));
        key = 0;
        for (INDArray a : tensors.values()) {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream((int) Math.min(Integer.MAX_VALUE - 8, a.length() * DType.of(a.dataType()).size));
            NativeBytes.writeTo(bytes, a.dup('c'));
            stored(zip, root + "data/" + key++, bytes.toByteArray());
        }
        stored(zip, root + "version", "3\n".getBytes(StandardCharsets.US_ASCII));
        zip.finish();
    }

    private static DType storable(String name, INDArray a) {
        DType dt = DType.of(a.dataType());
        if (dt != DType.F32 && dt != DType.F16 && dt != DType.BF16) {
            throw new IllegalArgumentException(name + ": " + dt + " tensors are not written by this writer (float32, float16, bfloat16)");
        }
        if (a.length() * dt.size > Integer.MAX_VALUE - 8) throw new IllegalArgumentException(name + ": one tensor over 2 GB");
        return dt;
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
        rebuild(p, shape, numel, "FloatStorage", "0");
        p.write('.'); // STOP
        return p.toByteArray();
    }

    /** Pushes {@code _rebuild_tensor_v2(persistent('storage', <storage>, key, 'cpu', numel), 0, shape, stride, False, OrderedDict())}. */
    private static void rebuild(ByteArrayOutputStream p, long[] shape, long numel, String storage, String key) {
        global(p, "torch._utils", "_rebuild_tensor_v2");
        p.write('('); // MARK: the arguments
        p.write('(');
        unicode(p, "storage");
        global(p, "torch", storage);
        unicode(p, key);
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
        for (long st : strides) integer(p, st);
        p.write('t');
        p.write(0x89); // NEWFALSE: requires_grad
        global(p, "collections", "OrderedDict");
        p.write(')'); // EMPTY_TUPLE
        p.write('R'); // REDUCE: OrderedDict() (backward hooks)
        p.write('t');
        p.write('R'); // REDUCE: _rebuild_tensor_v2(*args)
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
