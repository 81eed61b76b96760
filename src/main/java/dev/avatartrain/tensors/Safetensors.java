package dev.avatartrain.tensors;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.storage.AtomicFiles;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The safetensors format: an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
 * shape and byte range, then the data. The header is checked whole before any data is read; tensors are read
 * from a memory map of their byte range.
 */
public final class Safetensors {
    /** Headers larger than this are refused (python safetensors' own limit is 100 MB). */
    static final long MAX_HEADER = 100L << 20;
    private static final ObjectMapper JSON = new ObjectMapper();

    private Safetensors() {}

    /** Tensors in file order of their data, and the {@code __metadata__} strings. */
    public record SafetensorsFile(LinkedHashMap<String, INDArray> tensors, Map<String, String> metadata) {}

    /** One tensor's entry in the header. */
    public record Entry(String name, DType dtype, long[] shape, long begin, long end) {}

    /** Reads every tensor in its stored dtype. */
    public static SafetensorsFile read(Path file) {
        return read(file, null);
    }

    /** Reads every tensor, converted to {@code dtype} (null: keep the stored dtype). */
    public static SafetensorsFile read(Path file, DataType dtype) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) throw bad(file, "is " + size + " bytes, shorter than the 8-byte header length");
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long headerLen = lenBuf.getLong(0);
            if (headerLen < 2 || headerLen > MAX_HEADER || headerLen > size - 8)
                throw bad(file, "declares a header of " + headerLen + " bytes, but the file has " + (size - 8)
                        + " bytes after the length field (limit " + MAX_HEADER + ")");
            ByteBuffer header = ByteBuffer.allocate((int) headerLen);
            readFully(ch, header, 8);
            Header h = parseHeader(new String(header.array(), StandardCharsets.UTF_8), size - 8 - headerLen, file.toString());
            long dataStart = 8 + headerLen;
            LinkedHashMap<String, INDArray> out = new LinkedHashMap<>();
            for (Entry e : h.entries) {
                INDArray arr = NativeArrays.uninitialized(e.dtype.nd4j, e.shape);
                NativeBytes.fill(arr, ch, dataStart + e.begin, e.end - e.begin, ByteOrder.LITTLE_ENDIAN, e.dtype.size);
                out.put(e.name, dtype == null || dtype == arr.dataType() ? arr : arr.castTo(dtype));
            }
            return new SafetensorsFile(out, h.metadata);
        } catch (IOException e) {
            throw new BadInputException(file + ": cannot be read: " + e.getMessage(), e);
        }
    }

    /** Reads a safetensors stream (e.g. from S3); the stream is consumed in order, nothing is held twice. */
    public static SafetensorsFile read(InputStream in, String file, DataType dtype) throws IOException {
        Header h = readHeader(in, file);
        List<Entry> byOffset = new ArrayList<>(h.entries);
        LinkedHashMap<String, INDArray> out = new LinkedHashMap<>();
        for (Entry e : byOffset) {
            INDArray arr = NativeArrays.uninitialized(e.dtype.nd4j, e.shape);
            NativeBytes.fill(arr, in, e.end - e.begin, ByteOrder.LITTLE_ENDIAN, e.dtype.size, file);
            out.put(e.name, dtype == null || dtype == arr.dataType() ? arr : arr.castTo(dtype));
        }
        return new SafetensorsFile(out, h.metadata);
    }

    /** Lists the tensors (name → dtype and shape) without reading data. */
    public static Map<String, Entry> describe(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long headerLen = lenBuf.getLong(0);
            if (headerLen < 2 || headerLen > MAX_HEADER || headerLen > ch.size() - 8) throw bad(file, "has a bad header length " + headerLen);
            ByteBuffer header = ByteBuffer.allocate((int) headerLen);
            readFully(ch, header, 8);
            Map<String, Entry> out = new LinkedHashMap<>();
            for (Entry e : parseHeader(new String(header.array(), StandardCharsets.UTF_8), ch.size() - 8 - headerLen, file.toString()).entries)
                out.put(e.name, e);
            return out;
        } catch (IOException e) {
            throw new BadInputException(file + ": cannot be read: " + e.getMessage(), e);
        }
    }

    /**
     * Writes {@code tensors} (in their own dtypes) with {@code metadata} atomically. Python's
     * {@code safetensors.torch.load_file} reads the result.
     */
    public static void write(Path file, Map<String, INDArray> tensors, Map<String, String> metadata) throws IOException {
        AtomicFiles.write(file, out -> write(out, tensors, metadata));
    }

    /** Writes the safetensors bytes of {@code tensors} and {@code metadata} to a stream (see {@link #write(Path, Map, Map)}). */
    public static void write(OutputStream out, Map<String, INDArray> tensors, Map<String, String> metadata) throws IOException {
        List<Streamed> list = new ArrayList<>();
        tensors.forEach((n, a) -> list.add(new Streamed(n, a.dataType(), a.shape(), o -> NativeBytes.writeTo(o, a))));
        write(out, list, metadata);
    }

    /** Writes a tensor's little-endian bytes (exactly its dtype size × element count). */
    public interface TensorBytes {
        void writeTo(OutputStream out) throws IOException;
    }

    /** A tensor to write whose bytes come from elsewhere (e.g. the chunks of a flat buffer), without an array of it. */
    public record Streamed(String name, DataType dtype, long[] shape, TensorBytes bytes) {}

    /**
     * Writes tensors whose data is streamed by their {@link TensorBytes}: sorted by name, data laid out in the same
     * order, contiguous, no gaps. The header is written first, so each writer is checked for the byte count it owes.
     */
    public static void write(OutputStream out, List<Streamed> tensors, Map<String, String> metadata) throws IOException {
        TreeMap<String, Streamed> sorted = new TreeMap<>();
        for (Streamed t : tensors) sorted.put(t.name(), t);
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            new TreeMap<>(metadata).forEach(m::put);
        }
        long offset = 0;
        for (Streamed e : sorted.values()) {
            if (e.name().equals("__metadata__")) throw new IllegalArgumentException("'__metadata__' is not a tensor name");
            DType dt = DType.of(e.dtype());
            long bytes = NativeBytes.byteLength(dt, e.shape());
            ObjectNode t = header.putObject(e.name());
            t.put("dtype", dt.safetensorsName);
            var shape = t.putArray("shape");
            for (long d : e.shape()) shape.add(d);
            t.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        byte[] json = JSON.writeValueAsBytes(header);
        int padded = (json.length + 7) / 8 * 8;
        byte[] head = new byte[8 + padded];
        ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN).putLong(padded);
        System.arraycopy(json, 0, head, 8, json.length);
        for (int i = 8 + json.length; i < head.length; i++) head[i] = ' ';
        out.write(head);
        for (Streamed e : sorted.values()) {
            long owed = NativeBytes.byteLength(DType.of(e.dtype()), e.shape());
            long[] written = {0};
            e.bytes().writeTo(new java.io.FilterOutputStream(out) {
                @Override
                public void write(int b) throws IOException {
                    out.write(b);
                    written[0]++;
                }

                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    out.write(b, off, len);
                    written[0] += len;
                }
            });
            if (written[0] != owed)
                throw new IllegalStateException("safetensors: tensor '" + e.name() + "' wrote " + written[0] + " bytes, its header says " + owed);
        }
    }

    /** Receives one tensor of a stream read by {@link #stream(InputStream, String, TensorVisitor)}. */
    public interface TensorVisitor {
        /** {@code data} holds exactly the tensor's little-endian bytes; read all of them. */
        void visit(String name, DataType dtype, long[] shape, InputStream data) throws IOException;
    }

    /**
     * Reads a safetensors stream tensor by tensor into {@code visitor}, in data order, holding no tensor itself; returns
     * the {@code __metadata__} strings.
     */
    public static Map<String, String> stream(InputStream in, String file, TensorVisitor visitor) throws IOException {
        Header h = readHeader(in, file);
        for (Entry e : h.entries) {
            long length = e.end - e.begin;
            InputStream bounded = new java.io.FilterInputStream(in) {
                long left = length;

                @Override
                public int read() throws IOException {
                    if (left <= 0) return -1;
                    int b = in.read();
                    if (b >= 0) left--;
                    return b;
                }

                @Override
                public int read(byte[] b, int off, int len) throws IOException {
                    if (left <= 0) return -1;
                    int n = in.read(b, off, (int) Math.min(len, left));
                    if (n > 0) left -= n;
                    return n;
                }

                @Override
                public void close() {
                }
            };
            visitor.visit(e.name, e.dtype.nd4j, e.shape, bounded);
            if (bounded.read() >= 0) throw bad(file, "tensor '" + e.name + "' was not read to its end");
        }
        return h.metadata;
    }

    /** The {@code __metadata__} strings of a safetensors stream, reading only its header. */
    public static Map<String, String> readMetadata(InputStream in, String file) throws IOException {
        return readHeader(in, file).metadata;
    }

    /** The tensors (name → dtype and shape) of a safetensors stream, reading only its header. */
    public static Map<String, Entry> describe(InputStream in, String file) throws IOException {
        Map<String, Entry> out = new LinkedHashMap<>();
        for (Entry e : readHeader(in, file).entries) out.put(e.name, e);
        return out;
    }

    /** The length field and header at the start of a stream, validated (data length unknown). */
    private static Header readHeader(InputStream in, String file) throws IOException {
        byte[] len = in.readNBytes(8);
        if (len.length < 8) throw bad(file, "is shorter than the 8-byte header length");
        long headerLen = ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getLong();
        if (headerLen < 2 || headerLen > MAX_HEADER) throw bad(file, "declares a header of " + headerLen + " bytes (limit " + MAX_HEADER + ")");
        byte[] header = in.readNBytes((int) headerLen);
        if (header.length < headerLen) throw bad(file, "ends inside its " + headerLen + "-byte header");
        return parseHeader(new String(header, StandardCharsets.UTF_8), -1, file);
    }

    private record Header(List<Entry> entries, Map<String, String> metadata) {}

    /** Validates the header: JSON, known dtypes, shape × size = range, ranges in the data, no overlap, no gap. */
    private static Header parseHeader(String text, long dataLength, String file) {
        JsonNode root;
        try {
            root = JSON.readTree(text.stripTrailing());
        } catch (JsonProcessingException e) {
            throw bad(file, "has a header that is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) throw bad(file, "has a header that is not a JSON object");
        Map<String, String> metadata = new LinkedHashMap<>();
        List<Entry> entries = new ArrayList<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> f = it.next();
            String name = f.getKey();
            JsonNode v = f.getValue();
            if (name.equals("__metadata__")) {
                if (!v.isObject()) throw bad(file, "has a __metadata__ that is not an object of strings");
                v.fields().forEachRemaining(m -> {
                    if (!m.getValue().isTextual()) throw bad(file, "has a non-string __metadata__ value for '" + m.getKey() + "'");
                    metadata.put(m.getKey(), m.getValue().asText());
                });
                continue;
            }
            if (!v.isObject() || !v.path("dtype").isTextual() || !v.path("shape").isArray() || !v.path("data_offsets").isArray()
                    || v.path("data_offsets").size() != 2)
                throw bad(file, "tensor '" + name + "' needs dtype, shape and data_offsets [begin, end]");
            DType dt = DType.fromSafetensors(v.get("dtype").asText(), file);
            long[] shape = new long[v.get("shape").size()];
            for (int i = 0; i < shape.length; i++) {
                JsonNode d = v.get("shape").get(i);
                if (!d.canConvertToLong() || d.asLong() < 0) throw bad(file, "tensor '" + name + "' has a bad dimension " + d);
                shape[i] = d.asLong();
            }
            JsonNode b = v.get("data_offsets").get(0), e = v.get("data_offsets").get(1);
            if (!b.canConvertToLong() || !e.canConvertToLong()) throw bad(file, "tensor '" + name + "' has non-integer data_offsets");
            long begin = b.asLong(), end = e.asLong();
            long expected;
            try {
                expected = NativeBytes.byteLength(dt, shape);
            } catch (ArithmeticException ex) {
                throw bad(file, "tensor '" + name + "' has a shape too large to address");
            }
            if (begin < 0 || end < begin || (dataLength >= 0 && end > dataLength))
                throw bad(file, "tensor '" + name + "' has byte range [" + begin + ", " + end + ") outside the "
                        + (dataLength >= 0 ? dataLength + "-byte " : "") + "data section");
            if (end - begin != expected)
                throw bad(file, "tensor '" + name + "' is " + dt.safetensorsName + " " + java.util.Arrays.toString(shape)
                        + " = " + expected + " bytes, but its byte range holds " + (end - begin));
            entries.add(new Entry(name, dt, shape, begin, end));
        }
        entries.sort(java.util.Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long cursor = 0;
        for (Entry en : entries) {
            if (en.begin < cursor) throw bad(file, "tensor '" + en.name + "' overlaps the bytes of another tensor at offset " + en.begin);
            if (en.begin > cursor) throw bad(file, "has a gap of unused bytes before tensor '" + en.name + "' (offset " + cursor + " to " + en.begin + ")");
            cursor = en.end;
        }
        if (dataLength >= 0 && cursor != dataLength)
            throw bad(file, "has " + (dataLength - cursor) + " bytes after the last tensor that no tensor uses");
        return new Header(entries, metadata);
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos + buf.position());
            if (n < 0) throw new IOException("unexpected end of file");
        }
    }

    private static BadInputException bad(Object file, String problem) {
        // "tensor 'x' has …" reads as its own clause; the file-level problems continue "it …"
        return new BadInputException(file + ": not a valid safetensors file: " + (problem.startsWith("tensor ") ? "" : "it ") + problem + ".");
    }
}
