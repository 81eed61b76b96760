package dev.avatartrain.tensors;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.storage.AtomicFiles;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * numpy's {@code .npy} format, versions 1.0–3.0: numeric and boolean arrays in either byte order and either
 * memory order, and fixed-width string arrays ({@code <U}, {@code |S}). Object arrays need pickle and are refused.
 */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    private Npy() {}

    /**
     * A parsed array: numeric data as an ND4J array in C order, or the values of a string array.
     */
    public static final class NpyArray {
        private final long[] shape;
        private final INDArray array;
        private final String[] strings;

        NpyArray(long[] shape, INDArray array, String[] strings) {
            this.shape = shape;
            this.array = array;
            this.strings = strings;
        }

        public long[] shape() {
            return shape.clone();
        }

        public boolean isStrings() {
            return strings != null;
        }

        /** The numeric array converted to {@code dtype} (null keeps the stored type). */
        public INDArray toINDArray(DataType dtype) {
            if (array == null) throw new IllegalStateException("a string array has no numeric values");
            return dtype == null || dtype == array.dataType() ? array : array.castTo(dtype);
        }

        /** The values of a string array, flattened in C order. */
        public String[] toStrings() {
            if (strings == null) throw new IllegalStateException("not a string array");
            return strings.clone();
        }
    }

    public static NpyArray read(Path file) {
        // Numeric data goes from the file straight into the array's native memory (FileChannel read into it);
        // reading through an InputStream would copy it three times (kernel -> temporary direct buffer -> byte[]
        // -> native), which made this 3x slower than np.load on a 1 GiB array.
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            InputStream in = java.nio.channels.Channels.newInputStream(ch);
            Header h = readHeader(in, file.toString());
            if (h.isNumeric()) {
                DType dt = h.dtype(file.toString());
                long bytes = Math.multiplyExact(h.count(), (long) dt.size);
                long dataStart = ch.position();
                if (ch.size() - dataStart < bytes)
                    throw new BadInputException(file + ": truncated: expected " + bytes + " bytes of tensor data, found " + (ch.size() - dataStart) + ".");
                INDArray arr = NativeArrays.uninitialized(dt.nd4j, h.stored());
                NativeBytes.fill(arr, ch, dataStart, bytes, h.byteOrder(), dt.size);
                return h.numeric(arr);
            }
            return readData(in, file.toString(), h);
        } catch (IOException e) {
            throw new BadInputException(file + ": cannot be read: " + e.getMessage(), e);
        }
    }

    /** Reads one array from a stream; errors name the stream as {@code <stream>}. */
    public static NpyArray read(InputStream in) throws IOException {
        return read(in, "<stream>");
    }

    public static NpyArray read(InputStream in, String file) throws IOException {
        return readData(in, file, readHeader(in, file));
    }

    /** The dtype and shape of a .npy stream from its header only (strings report dtype {@code null}). */
    public static TensorFiles.Described describe(InputStream in, String file) throws IOException {
        Header h = readHeader(in, file);
        if (!h.isNumeric()) return new TensorFiles.Described(h.descr(), h.shape(), false);
        DType dt = h.dtype(file);
        return new TensorFiles.Described(dt.safetensorsName, h.shape(), dt.nd4j.isFPType());
    }

    /** A parsed .npy header. */
    private record Header(String descr, boolean fortran, long[] shape) {
        ByteOrder byteOrder() {
            return descr.charAt(0) == '>' ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
        }

        String code() {
            return descr.substring(1);
        }

        boolean isNumeric() {
            return !descr.contains("O") && descr.length() >= 3 && !code().startsWith("U") && !code().startsWith("S")
                    && DType.fromNumpy(code()) != null;
        }

        DType dtype(String file) {
            DType dt = DType.fromNumpy(code());
            if (dt == null)
                throw bad(file, "has dtype '" + descr + "'; supported: float64/32/16, int64/32/16/8, uint8, bool, and unicode/bytes strings");
            return dt;
        }

        long count() {
            long count = 1;
            for (long d : shape) count = Math.multiplyExact(count, d);
            return count;
        }

        /** The shape as stored: reversed for Fortran order. */
        long[] stored() {
            return fortran ? reversed(shape) : shape;
        }

        /** The result for data read into {@code arr} (of the stored shape). */
        NpyArray numeric(INDArray arr) {
            if (fortran && shape.length > 1) arr = arr.permute(reversedAxes(shape.length)).dup('c');
            return new NpyArray(shape, arr, null);
        }
    }

    /** Reads the magic string, version and header dictionary; the stream is left at the first data byte. */
    private static Header readHeader(InputStream in, String file) throws IOException {
        byte[] pre = in.readNBytes(8);
        if (pre.length < 8 || !java.util.Arrays.equals(java.util.Arrays.copyOf(pre, 6), MAGIC))
            throw bad(file, "does not start with the .npy magic string");
        int major = pre[6] & 255;
        long headerLen;
        if (major == 1) {
            byte[] l = in.readNBytes(2);
            if (l.length < 2) throw bad(file, "ends inside its header");
            headerLen = ByteBuffer.wrap(l).order(ByteOrder.LITTLE_ENDIAN).getShort() & 0xffff;
        } else if (major == 2 || major == 3) {
            byte[] l = in.readNBytes(4);
            if (l.length < 4) throw bad(file, "ends inside its header");
            headerLen = ByteBuffer.wrap(l).order(ByteOrder.LITTLE_ENDIAN).getInt() & 0xffffffffL;
        } else {
            throw bad(file, "has format version " + major + "." + (pre[7] & 255) + "; versions 1.0 to 3.0 are supported");
        }
        if (headerLen > 1 << 24) throw bad(file, "declares a " + headerLen + "-byte header");
        byte[] hb = in.readNBytes((int) headerLen);
        if (hb.length < headerLen) throw bad(file, "ends inside its header");
        String header = new String(hb, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        String descr = group(DESCR, header, file, "descr");
        boolean fortran = group(FORTRAN, header, file, "fortran_order").equals("True");
        long[] shape = parseShape(group(SHAPE, header, file, "shape"), file);
        return new Header(descr, fortran, shape);
    }

    private static NpyArray readData(InputStream in, String file, Header h) throws IOException {
        String descr = h.descr();
        boolean fortran = h.fortran();
        long[] shape = h.shape();
        if (descr.contains("O"))
            throw bad(file, "is an object array (dtype '" + descr + "'), which needs pickle; only numeric, boolean and string arrays are read");
        if (descr.length() < 3) throw bad(file, "has an unsupported dtype '" + descr + "'");
        String code = h.code();
        ByteOrder bo = h.byteOrder();
        long count = h.count();
        if (code.startsWith("U") || code.startsWith("S")) {
            int width = Integer.parseInt(code.substring(1));
            int charSize = code.startsWith("U") ? 4 : 1;
            if (count * width * charSize > Integer.MAX_VALUE) throw bad(file, "is a string array too large to read");
            byte[] data = in.readNBytes((int) (count * width * charSize));
            if (data.length < count * width * charSize) throw bad(file, "is truncated");
            String[] values = new String[(int) count];
            ByteBuffer b = ByteBuffer.wrap(data).order(bo);
            for (int i = 0; i < count; i++) {
                StringBuilder sb = new StringBuilder();
                for (int k = 0; k < width; k++) {
                    int cp = charSize == 4 ? b.getInt() : b.get() & 255;
                    if (cp != 0) sb.appendCodePoint(cp);
                }
                values[i] = sb.toString().replaceAll("\u0000+$", "");
            }
            if (fortran && shape.length > 1) values = fortranToC(values, shape);
            return new NpyArray(shape, null, values);
        }
        DType dt = h.dtype(file);
        INDArray arr = NativeArrays.uninitialized(dt.nd4j, h.stored());
        NativeBytes.fill(arr, in, count * dt.size, bo, dt.size, file);
        return h.numeric(arr);
    }

    /** Writes {@code array} (C order, little-endian, its own dtype) to a stream. */
    public static void write(OutputStream out, INDArray array) throws IOException {
        DType dt = DType.of(array.dataType());
        if (dt.numpyCode == null) throw new IllegalArgumentException("numpy has no " + dt + " type; cast first");
        String descr = (dt.size == 1 ? "|" : "<") + dt.numpyCode;
        out.write(header(descr, array.shape()));
        NativeBytes.writeTo(out, array);
    }

    /** Writes {@code array} to {@code file} atomically. */
    public static void write(Path file, INDArray array) throws IOException {
        AtomicFiles.write(file, out -> write(out, array));
    }

    /** Writes a 1-D numpy unicode array ({@code <U<max length>}), loadable with {@code allow_pickle=False}. */
    public static void writeStrings(OutputStream out, String[] values) throws IOException {
        int width = 1;
        for (String v : values) width = Math.max(width, v.codePointCount(0, v.length()));
        out.write(header("<U" + width, new long[]{values.length}));
        ByteBuffer b = ByteBuffer.allocate(values.length * width * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (String v : values) {
            int[] cps = v.codePoints().toArray();
            for (int k = 0; k < width; k++) b.putInt(k < cps.length ? cps[k] : 0);
        }
        out.write(b.array());
    }

    /** The header numpy's {@code np.save} writes: version 1.0 (2.0 if too long), padded to 64 bytes. */
    static byte[] header(String descr, long[] shape) {
        StringBuilder dims = new StringBuilder();
        for (int i = 0; i < shape.length; i++) dims.append(i > 0 ? ", " : "").append(shape[i]);
        if (shape.length == 1) dims.append(",");
        String dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (" + dims + "), }";
        boolean v2 = dict.length() + 11 > 65535;
        int prefix = v2 ? 12 : 10;
        int total = (prefix + dict.length() + 1 + 63) / 64 * 64;
        String padded = dict + " ".repeat(total - prefix - dict.length() - 1) + "\n";
        ByteArrayOutputStream out = new ByteArrayOutputStream(total);
        out.writeBytes(MAGIC);
        out.write(v2 ? 2 : 1);
        out.write(0);
        ByteBuffer len = ByteBuffer.allocate(v2 ? 4 : 2).order(ByteOrder.LITTLE_ENDIAN);
        if (v2) len.putInt(padded.length()); else len.putShort((short) padded.length());
        out.writeBytes(len.array());
        out.writeBytes(padded.getBytes(StandardCharsets.ISO_8859_1));
        return out.toByteArray();
    }

    private static String group(Pattern p, String header, String file, String key) {
        Matcher m = p.matcher(header);
        if (!m.find()) throw bad(file, "has a header without a readable '" + key + "': " + header.trim());
        return m.group(1);
    }

    private static long[] parseShape(String text, String file) {
        List<Long> dims = new ArrayList<>();
        for (String s : text.split(",")) {
            String t = s.trim().toLowerCase(Locale.ROOT).replace("l", "");
            if (t.isEmpty()) continue;
            try {
                long d = Long.parseLong(t);
                if (d < 0) throw bad(file, "has a negative dimension in its shape (" + text + ")");
                dims.add(d);
            } catch (NumberFormatException e) {
                throw bad(file, "has an unreadable shape (" + text + ")");
            }
        }
        return dims.stream().mapToLong(Long::longValue).toArray();
    }

    private static long[] reversed(long[] a) {
        long[] r = new long[a.length];
        for (int i = 0; i < a.length; i++) r[i] = a[a.length - 1 - i];
        return r;
    }

    private static int[] reversedAxes(int n) {
        int[] r = new int[n];
        for (int i = 0; i < n; i++) r[i] = n - 1 - i;
        return r;
    }

    private static String[] fortranToC(String[] f, long[] shape) {
        String[] c = new String[f.length];
        int n = shape.length;
        long[] idx = new long[n];
        for (int i = 0; i < f.length; i++) {
            long rem = i, cPos = 0, stride = 1;
            for (int d = 0; d < n; d++) {
                idx[d] = rem % shape[d];
                rem /= shape[d];
            }
            for (int d = n - 1; d >= 0; d--) {
                cPos += idx[d] * stride;
                stride *= shape[d];
            }
            c[(int) cPos] = f[i];
        }
        return c;
    }

    private static BadInputException bad(String file, String problem) {
        return new BadInputException(file + ": not a readable .npy file: it " + problem + ".");
    }


}
