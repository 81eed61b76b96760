package dev.avatartrain.data.adapter;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.models.adapter.AudioProjConfig;
import dev.avatartrain.tensors.Npy;
import dev.avatartrain.tensors.Safetensors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** The manifest with real files in a temporary folder: every format and dtype, and each error it reports. */
class AdapterManifestTest {
    static final Path FIXTURES = Path.of("src/test/resources/fixtures/adapter").toAbsolutePath();
    /** window 5, vae_scale 4, L = 2, C = 8, 3 tokens of 8. */
    static final AudioProjConfig CFG = new AudioProjConfig(5, 4, 2, 8, 4, 3, 8, true);

    @TempDir
    Path dir;
    INDArray audio9;
    INDArray target9;

    @BeforeEach
    void files() throws IOException {
        Nd4j.getRandom().setSeed(1);
        audio9 = Nd4j.rand(DataType.FLOAT, 9, 2, 8);
        target9 = Nd4j.rand(DataType.FLOAT, 3, 3, 8);
        Files.createDirectories(dir.resolve("clips"));
        Npy.write(dir.resolve("clips/a.npy"), audio9);
        Npy.write(dir.resolve("clips/t.npy"), target9);
        // fp16 audio and bf16 target in safetensors; T = 6 is padded: 1 + ceil(5/4) = 3 frames
        Safetensors.write(dir.resolve("b.safetensors"), Map.of("audio", Nd4j.rand(DataType.FLOAT, 6, 2, 8)
                .castTo(DataType.HALF)), Map.of());
        Safetensors.write(dir.resolve("bt.safetensors"), Map.of("target", Nd4j.rand(DataType.FLOAT, 3, 3, 8)
                .castTo(DataType.BFLOAT16), "extra", Nd4j.zeros(DataType.FLOAT, 1)), Map.of());
        for (String f : new String[] {"manifest_audio_fp16.pt", "manifest_target_bf16.pt", "not_a_tensor.pt"}) {
            Files.copy(FIXTURES.resolve(f), dir.resolve(f));
        }
    }

    Path manifest(String json) throws IOException {
        Path m = dir.resolve("manifest.json");
        Files.writeString(m, json);
        return m;
    }

    AdapterManifest.Example loadOnly(String item) throws IOException {
        AdapterManifest m = AdapterManifest.read(manifest("[" + item + "]").toString(), null);
        return m.load(0, CFG, null);
    }

    static void assertMessage(Executable e, String... parts) {
        BadInputException ex = assertThrows(BadInputException.class, e);
        for (String p : parts) {
            assertTrue(ex.getMessage().contains(p), "message lacks \"" + p + "\": " + ex.getMessage());
        }
    }

    @Test
    void readsEveryFormatRelativeAndAbsolute() throws IOException {
        String json = "[{\"audio\": \"clips/a.npy\", \"target\": \"./clips/t.npy\"},"
                + " {\"audio\": \"" + dir.resolve("b.safetensors") + "\", \"target\": \"bt.safetensors\", \"weight\": 2.5,"
                + " \"speaker\": \"x\"},"
                + " {\"audio\": \"" + dir.resolve("manifest_audio_fp16.pt").toUri() + "\","
                + " \"target\": \"manifest_target_bf16.pt\", \"weight\": 0}]";
        AdapterManifest m = AdapterManifest.read(manifest(json).toUri().toString(), null);
        assertEquals(3, m.size());
        assertEquals(Set.of("speaker"), m.ignoredKeys());
        assertEquals(dir.resolve("clips/a.npy").toString(), m.items().get(0).audio());
        assertEquals(dir.resolve("clips/t.npy").toString(), m.items().get(0).target());

        AdapterManifest.Example e0 = m.load(0, CFG, null);
        assertEquals(audio9, e0.audio());
        assertEquals(target9, e0.target());
        assertEquals(1.0, e0.weight());
        assertEquals(9, e0.frames());

        AdapterManifest.Example e1 = m.load(1, CFG, null);
        assertEquals(DataType.FLOAT, e1.audio().dataType());
        assertEquals(DataType.FLOAT, e1.target().dataType());
        assertArrayEquals(new long[] {6, 2, 8}, e1.audio().shape());
        assertEquals(2.5, e1.weight());

        AdapterManifest.Example e2 = m.load(2, CFG, null);
        assertArrayEquals(new long[] {5, 2, 8}, e2.audio().shape());
        assertArrayEquals(new long[] {2, 3, 8}, e2.target().shape());
        assertEquals(DataType.FLOAT, e2.audio().dataType());
        assertEquals(0.0, e2.weight());

        // one batch of all three: padded to 3 output frames, clip 2 (T=5) has 2
        var b = AdapterManifest.batch(List.of(e0, e1, e2), CFG, DataType.FLOAT);
        assertArrayEquals(new int[] {3, 3, 2}, b.frames());
        assertArrayEquals(new long[] {3, 3, 3, 8}, b.target().shape());
        assertEquals(Nd4j.createFromArray(1f, 2.5f, 0f), b.weight());
    }

    @Test
    void missingFile() throws IOException {
        assertMessage(() -> loadOnly("{\"audio\": \"clips/a.npy\", \"target\": \"clips/nope.npy\"}"),
                "item 0", "target file " + dir.resolve("clips/nope.npy"), "not found");
        assertMessage(() -> AdapterManifest.read(dir.resolve("absent.json").toString(), null),
                "Manifest " + dir.resolve("absent.json"), "not found");
    }

    @Test
    void wrongShapes() throws IOException {
        Npy.write(dir.resolve("flat.npy"), Nd4j.rand(DataType.FLOAT, 9, 16));
        Npy.write(dir.resolve("wrong_c.npy"), Nd4j.rand(DataType.FLOAT, 9, 2, 7));
        Npy.write(dir.resolve("short.npy"), Nd4j.rand(DataType.FLOAT, 2, 3, 8));
        String m = manifest("[]").toString();
        assertMessage(() -> loadOnly("{\"audio\": \"flat.npy\", \"target\": \"clips/t.npy\"}"),
                "Manifest " + m + ", item 0", "audio " + dir.resolve("flat.npy"), "has shape [9, 16]",
                "expected [T, 2, 8]");
        assertMessage(() -> loadOnly("{\"audio\": \"wrong_c.npy\", \"target\": \"clips/t.npy\"}"),
                "has shape [9, 2, 7]", "expected [T, 2, 8]");
        assertMessage(() -> loadOnly("{\"audio\": \"clips/a.npy\", \"target\": \"short.npy\"}"),
                "item 0", "target " + dir.resolve("short.npy"), "has shape [2, 3, 8]", "expected [3, 3, 8]",
                "T = 9");
        // the second item is the bad one, and the message says so
        AdapterManifest two = AdapterManifest.read(manifest("[{\"audio\": \"clips/a.npy\", \"target\": "
                + "\"clips/t.npy\"}, {\"audio\": \"clips/a.npy\", \"target\": \"short.npy\"}]").toString(), null);
        two.load(0, CFG, null);
        assertMessage(() -> two.load(1, CFG, null), "item 1", "short.npy");
    }

    @Test
    void nonTensorPt() {
        assertMessage(() -> loadOnly("{\"audio\": \"not_a_tensor.pt\", \"target\": \"clips/t.npy\"}"),
                "Manifest " + dir.resolve("manifest.json") + ", item 0: audio file " + dir.resolve("not_a_tensor.pt")
                        + ": holds no tensors (found");
    }

    @Test
    void severalTensorsWithoutTheRoleName() throws IOException {
        Safetensors.write(dir.resolve("two.safetensors"), Map.of("x", audio9, "y", audio9), Map.of());
        assertMessage(() -> loadOnly("{\"audio\": \"two.safetensors\", \"target\": \"clips/t.npy\"}"),
                "holds 2 tensors", "one named \"audio\"");
    }

    @Test
    void evenWindow() {
        assertMessage(() -> CFG.withWindow(4, 4), "audio_window is 4", "odd");
    }

    @Test
    void badManifests() {
        String u = "/data/m.json";
        assertMessage(() -> AdapterManifest.parse("[]", u), "Manifest /data/m.json is an empty list");
        assertMessage(() -> AdapterManifest.parse("{\"audio\": \"a.npy\"}", u), "must be a JSON list", "OBJECT");
        assertMessage(() -> AdapterManifest.parse("[{\"audio\": \"a.npy\"", u), "is not valid JSON");
        assertMessage(() -> AdapterManifest.parse("[\"a.npy\"]", u), "item 0", "expected an object");
        assertMessage(() -> AdapterManifest.parse("[{\"audio\": \"a.npy\"}]", u), "item 0",
                "\"target\" must be a path", "no such key");
        assertMessage(() -> AdapterManifest.parse("[{\"audio\": \"a.npy\", \"target\": \"t.npy\"},"
                + " {\"audio\": \"a.npy\", \"target\": \"t.npy\", \"weight\": -1}]", u), "item 1",
                "\"weight\" is -1", "finite number >= 0");
        assertMessage(() -> AdapterManifest.parse("[{\"audio\": 3, \"target\": \"t.npy\"}]", u),
                "\"audio\" must be a path", "found 3");
    }

    @Test
    void remoteManifestsResolveAgainstTheirFolder() {
        AdapterManifest m = AdapterManifest.parse("[{\"audio\": \"clips/a.pt\", \"target\": \"s3a://other/t.npy\"}]",
                "s3a://bucket/train/manifest.json");
        assertEquals(new AdapterManifest.Item(0, "s3a://bucket/train/clips/a.pt", "s3a://other/t.npy", 1.0),
                m.items().get(0));
        AdapterManifest h = AdapterManifest.parse("[{\"audio\": \"a.npy\", \"target\": \"/abs/t.npy\", \"weight\": 3}]",
                "https://bucket.s3.eu-west-1.amazonaws.com/x/m.json");
        assertEquals(List.of(new AdapterManifest.Item(0, "https://bucket.s3.eu-west-1.amazonaws.com/x/a.npy",
                "/abs/t.npy", 3.0)), h.items());
    }
}
