package dev.avatartrain.tensors;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * numpy's .npy format, float32 little-endian C order only: the foundation's minimal version, to be replaced
 * by the tensors layer (issue 9) with every dtype, version, byte order and memory order.
 */
public final class Npy {
    private Npy() {}

    /** A parsed .npy array. */
    public record NpyArray(long[] shape, float[] data) {
        public INDArray toINDArray(DataType dtype) {
            return Nd4j.create(data, shape, 'c').castTo(dtype);
        }
    }

    public static void write(OutputStream out, INDArray array) throws IOException {
        float[] data = array.castTo(DataType.FLOAT).dup('c').data().asFloat();
        long[] shape = array.shape();
        StringBuilder dims = new StringBuilder();
        for (long d : shape) dims.append(d).append(", ");
        if (shape.length > 1) dims.setLength(dims.length() - 2);
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
        int headerLen = 10 + dict.length() + 1;
        int padded = (headerLen + 63) / 64 * 64;
        String header = dict + " ".repeat(padded - headerLen) + "\n";
        ByteBuffer buf = ByteBuffer.allocate(padded + 4 * data.length).order(ByteOrder.LITTLE_ENDIAN);
        buf.put((byte) 0x93).put("NUMPY".getBytes(StandardCharsets.US_ASCII)).put((byte) 1).put((byte) 0);
        buf.putShort((short) header.length()).put(header.getBytes(StandardCharsets.US_ASCII));
        buf.asFloatBuffer().put(data);
        out.write(buf.array());
    }

    public static NpyArray read(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            ByteBuffer b = ByteBuffer.wrap(in.readAllBytes()).order(ByteOrder.LITTLE_ENDIAN);
            int headerLen = b.getShort(8) & 0xffff;
            String header = new String(b.array(), 10, headerLen, StandardCharsets.US_ASCII);
            if (!header.contains("'<f4'") || !header.contains("False"))
                throw new IOException(file + ": only float32 C-order .npy is supported by this reader");
            String dims = header.substring(header.indexOf("'shape': (") + 10, header.indexOf(')'));
            long[] shape = Arrays.stream(dims.split(",")).map(String::trim).filter(s -> !s.isEmpty()).mapToLong(Long::parseLong).toArray();
            float[] data = new float[(int) Arrays.stream(shape).reduce(1, (x, y) -> x * y)];
            b.position(10 + headerLen);
            b.asFloatBuffer().get(data);
            return new NpyArray(shape, data);
        }
    }
}
