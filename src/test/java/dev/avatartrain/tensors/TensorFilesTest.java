package dev.avatartrain.tensors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.avatartrain.errors.BadInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Reads fixtures written by PyTorch and numpy (src/test/scripts/make_tensor_fixtures.py) and round-trips ours. */
class TensorFilesTest {
    static final Path FIX = Path.of("src/test/resources/fixtures/tensors");

    @TempDir
    Path tmp;

    private static Map<String, Npy.NpyArray> expected(String npz) {
        return Npz.read(FIX.resolve(npz));
    }

    private static void assertSame(INDArray expected, INDArray actual, String name) {
        assertArrayEquals(expected.shape(), actual.shape(), name + " shape");
        assertEquals(expected.castTo(DataType.DOUBLE), actual.castTo(DataType.DOUBLE), name + " values");
    }

    @Test
    void safetensorsOfEveryDtypeReadAsPytorchWroteThem() {
        Safetensors.SafetensorsFile f = Safetensors.read(FIX.resolve("dtypes.safetensors"));
        assertEquals(Map.of("format", "pt", "note", "fixture"), f.metadata());
        Map<String, Npy.NpyArray> exp = expected("dtypes_expected.npz");
        assertEquals(exp.keySet(), f.tensors().keySet());
        assertEquals(DataType.BFLOAT16, f.tensors().get("bf16").dataType());
        assertEquals(DataType.BOOL, f.tensors().get("bool").dataType());
        assertEquals(DataType.UBYTE, f.tensors().get("u8").dataType());
        exp.forEach((k, v) -> assertSame(v.toINDArray(null), f.tensors().get(k), k));
        // A requested dtype converts.
        assertEquals(DataType.FLOAT, Safetensors.read(FIX.resolve("dtypes.safetensors"), DataType.FLOAT).tensors().get("f16").dataType());
    }

    @Test
    void safetensorsRoundTripEveryDtypeAndKeepMetadata() throws IOException {
        LinkedHashMap<String, INDArray> in = Safetensors.read(FIX.resolve("dtypes.safetensors")).tensors();
        Path out = tmp.resolve("rt.safetensors");
        Safetensors.write(out, in, Map.of("step", "12"));
        Safetensors.SafetensorsFile back = Safetensors.read(out);
        assertEquals(Map.of("step", "12"), back.metadata());
        in.forEach((k, v) -> {
            assertEquals(v.dataType(), back.tensors().get(k).dataType(), k);
            assertSame(v, back.tensors().get(k), k);
        });
        // The layout python's safetensors expects: u64 LE header length, a multiple of 8, space padded.
        byte[] bytes = Files.readAllBytes(out);
        long n = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8);
        String header = new String(bytes, 8, (int) n);
        assertTrue(header.startsWith("{") && header.stripTrailing().endsWith("}"));
        JsonNode h = new ObjectMapper().readTree(header);
        assertEquals("BF16", h.get("bf16").get("dtype").asText());
        try (InputStream s = Files.newInputStream(out)) {
            assertSame(in.get("f32"), Safetensors.read(s, "stream", null).tensors().get("f32"), "streamed");
        }
    }

    @Test
    void torchSaveArchivesComeOutAsPytorchHasThem() throws IOException {
        LinkedHashMap<String, INDArray> sd = TorchFiles.loadStateDict(FIX.resolve("nested.pt"), null);
        List<String> order = new ArrayList<>();
        new ObjectMapper().readTree(FIX.resolve("nested_expected_order.json").toFile()).forEach(n -> order.add(n.asText()));
        assertEquals(order, new ArrayList<>(sd.keySet()), "names and order of the state dict");
        Map<String, Npy.NpyArray> exp = expected("nested_expected.npz");
        exp.forEach((k, v) -> assertSame(v.toINDArray(null), sd.get(k), k));
        assertEquals(DataType.HALF, sd.get("state_dict.half").dataType());
        assertEquals(DataType.BFLOAT16, sd.get("state_dict.bfloat").dataType());
        assertEquals(DataType.BOOL, sd.get("state_dict.flags").dataType());
        assertEquals(DataType.LONG, sd.get("state_dict.long").dataType());
        // Other values of the saved object are kept as Java values.
        Map<?, ?> root = (Map<?, ?>) TorchFiles.load(FIX.resolve("nested.pt"));
        assertEquals(5L, root.get("epoch"));
        assertEquals(0.001, (Double) root.get("lr"), 0);
        assertEquals("fixture", root.get("name"));
        assertTrue(root.containsKey("none") && root.get("none") == null);
        // Conversion on request; a bare tensor is named "tensor".
        assertEquals(DataType.FLOAT, TorchFiles.loadStateDict(FIX.resolve("nested.pt"), DataType.FLOAT).get("state_dict.half").dataType());
        INDArray bare = TensorFiles.read(FIX.resolve("bare_tensor.pt"), DataType.DOUBLE).get("tensor");
        assertEquals(Npy.read(FIX.resolve("bare_tensor_expected.npy")).toINDArray(null), bare);
    }

    @Test
    void torchFilesWithoutTensorsOrInTheLegacyFormatGiveClearErrors() {
        assertTrue(assertThrows(BadInputException.class, () -> TorchFiles.loadStateDict(FIX.resolve("no_tensors.pt"), null))
                .getMessage().contains("no_tensors.pt: holds no tensors"));
        assertTrue(assertThrows(BadInputException.class, () -> TorchFiles.load(FIX.resolve("legacy.pt")))
                .getMessage().contains("legacy (pre-1.6, non-zip) torch.save format is not supported"));
        BadInputException truncated = assertThrows(BadInputException.class, () -> TorchFiles.load(FIX.resolve("truncated.pt")));
        assertFalse(truncated instanceof UnsafeFileException);
        assertTrue(truncated.getMessage().contains("truncated.pt"), truncated.getMessage());
    }

    @ParameterizedTest
    @CsvSource({
            "evil_os_system.pt, posix.system, os-system",
            "evil_eval.pt, __builtin__.eval, eval",
            "evil_exec.pt, __builtin__.exec, exec",
            "evil_unknown_module.pt, evilmod.Thing, unknown",
            "evil_subprocess.pt, subprocess.Popen, subprocess",
            "evil_build.pt, BUILD, build",
            "evil_traversal.pt, ../../avatar-train-pwned-traversal, traversal"})
    void maliciousFilesAreRefusedAndNothingRuns(String file, String named, String marker) {
        UnsafeFileException e = assertThrows(UnsafeFileException.class, () -> TorchFiles.load(FIX.resolve(file)));
        assertTrue(e.getMessage().startsWith(FIX.resolve(file) + ": refused"), e.getMessage());
        assertTrue(e.getMessage().contains(named), e.getMessage());
        assertFalse(Files.exists(Path.of("/tmp/avatar-train-pwned-" + marker)), "side effect happened");
        assertFalse(Files.exists(FIX.getParent().resolve("avatar-train-pwned-traversal")));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "bad_past_end.safetensors|tensor 'b' has byte range [16, 40) outside the 24-byte data section",
            "bad_overlap.safetensors|overlaps the bytes of another tensor",
            "bad_header_2gb.safetensors|declares a header of 2147483648 bytes",
            "bad_dtype.safetensors|unsupported safetensors dtype 'F8_E4M3'",
            "bad_json.safetensors|header that is not valid JSON"})
    void badSafetensorsHeadersAreRefusedBeforeAnyDataIsRead(String file, String problem) {
        BadInputException e = assertThrows(BadInputException.class, () -> Safetensors.read(FIX.resolve(file)));
        assertTrue(e.getMessage().startsWith(FIX.resolve(file).toString()), e.getMessage());
        assertTrue(e.getMessage().contains(problem), e.getMessage());
        assertFalse(e.getMessage().contains(": it tensor"), e.getMessage());
    }

    @Test
    void npyVersionsByteOrdersAndMemoryOrdersReadAsNumpyWroteThem() {
        INDArray arr = Npy.read(FIX.resolve("arr_expected.npy")).toINDArray(null);
        for (String v : List.of("v1.npy", "v2.npy", "v3.npy")) {
            INDArray a = Npy.read(FIX.resolve(v)).toINDArray(null);
            assertEquals(DataType.FLOAT, a.dataType());
            assertTrue(arr.castTo(DataType.FLOAT).equalsWithEps(a, 1e-7), v);
        }
        assertEquals(arr, Npy.read(FIX.resolve("big_endian_f8.npy")).toINDArray(null));
        assertEquals(arr, Npy.read(FIX.resolve("fortran.npy")).toINDArray(null));
        assertEquals(Nd4j.createFromArray(new int[][]{{-3, -2, -1}, {0, 1, 2}}), Npy.read(FIX.resolve("big_endian_i4.npy")).toINDArray(null));
        assertEquals(Nd4j.createFromArray(new boolean[][]{{true, false}, {false, true}}), Npy.read(FIX.resolve("bool.npy")).toINDArray(null));
        assertEquals(DataType.HALF, Npy.read(FIX.resolve("f16.npy")).toINDArray(null).dataType());
        assertArrayEquals(new String[]{"HDTF-0001", "x", "ünï"}, Npy.read(FIX.resolve("strings.npy")).toStrings());
        BadInputException e = assertThrows(BadInputException.class, () -> Npy.read(FIX.resolve("object.npy")));
        assertTrue(e.getMessage().contains("object array"), e.getMessage());
    }

    @Test
    void npyWrittenHereIsByteForByteWhatNumpyWrites() throws IOException {
        ByteArrayOutputStream f32 = new ByteArrayOutputStream();
        Npy.write(f32, Nd4j.arange(6).castTo(DataType.FLOAT).reshape(2, 3));
        assertArrayEquals(Files.readAllBytes(FIX.resolve("np_save_f32_2x3.npy")), f32.toByteArray());
        ByteArrayOutputStream i64 = new ByteArrayOutputStream();
        Npy.write(i64, Nd4j.createFromArray(1L, -2L, 3L, 4L));
        assertArrayEquals(Files.readAllBytes(FIX.resolve("np_save_i64_4.npy")), i64.toByteArray());
        ByteArrayOutputStream str = new ByteArrayOutputStream();
        Npy.writeStrings(str, new String[]{"HDTF-0001", "HDTF-10"});
        assertArrayEquals(Files.readAllBytes(FIX.resolve("np_save_u10.npy")), str.toByteArray());
    }

    @Test
    void npzStoredAndDeflatedReadAndOursRoundTrips() throws IOException {
        INDArray arr = Npy.read(FIX.resolve("arr_expected.npy")).toINDArray(DataType.FLOAT);
        for (String f : List.of("stored.npz", "deflated.npz")) {
            Map<String, Npy.NpyArray> z = Npz.read(FIX.resolve(f));
            assertEquals(List.of("a", "names", "n"), new ArrayList<>(z.keySet()), f);
            assertEquals(arr, z.get("a").toINDArray(null));
            assertArrayEquals(new String[]{"a", "bb"}, z.get("names").toStrings());
            assertEquals(3L, z.get("n").toINDArray(null).getLong(0));
        }
        LinkedHashMap<String, Object> mine = new LinkedHashMap<>();
        mine.put("a", arr);
        mine.put("names", new String[]{"a", "bb"});
        Path out = tmp.resolve("mine.npz");
        Npz.write(out, mine);
        Map<String, Npy.NpyArray> back = Npz.read(out);
        assertEquals(arr, back.get("a").toINDArray(null));
        assertArrayEquals(new String[]{"a", "bb"}, back.get("names").toStrings());
        assertEquals(arr, TensorFiles.read(out, null).get("a"), "strings are left out of the numeric view");
    }

    @Test
    void tensorFilesPicksTheFormatByExtensionAndNamesUnknownOnes() {
        assertEquals(Npy.read(FIX.resolve("arr_expected.npy")).toINDArray(null), TensorFiles.read(FIX.resolve("arr_expected.npy"), null).get("array"));
        assertTrue(assertThrows(BadInputException.class, () -> TensorFiles.read(FIX.resolve("nested_expected_order.json"), null))
                .getMessage().contains("unknown tensor file type"));
        assertTrue(assertThrows(BadInputException.class, () -> TensorFiles.read(tmp.resolve("missing.pt"), null))
                .getMessage().contains("missing.pt: file not found"));
    }
}
