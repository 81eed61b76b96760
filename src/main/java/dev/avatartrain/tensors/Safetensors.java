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
        // Tensors sorted by name; data laid out in the same order, contiguous, no gaps.
        TreeMap<String, INDArray> sorted = new TreeMap<>(tensors);
        ObjectNode header = JSON.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            new TreeMap<>(metadata).forEach(m::put);
        }
        long offset = 0;
        for (Map.Entry<String, INDArray> e : sorted.entrySet()) {
            if (e.getKey().equals("__metadata__")) throw new IllegalArgumentException("'__metadata__' is not a tensor name");
            INDArray a = e.getValue();
            DType dt = DType.of(a.dataType());
            long bytes = a.length() * dt.size;
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", dt.safetensorsName);
            var shape = t.putArray("shape");
            for (long d : a.shape()) shape.add(d);
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
        for (INDArray a : sorted.values()) NativeBytes.writeTo(out, a);
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
