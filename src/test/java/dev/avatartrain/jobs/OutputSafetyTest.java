package dev.avatartrain.jobs;

import dev.avatartrain.data.adapter.AdapterManifest;
import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.metadata.MetadataFiles;
import dev.avatartrain.storage.SafePaths;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Names from metadata, manifests and the command line stay inside their folders; demo clears only its own folder. */
class OutputSafetyTest {
    @TempDir
    Path tmp;

    static final List<String> HOSTILE = List.of("../../../../elsewhere/clipX", "..", ".", "/etc", "a/b", "a\\b", "", "x\u0000y");

    @Test
    void hostileClipAndFrameNamesInMetadataFilesAreRefusedNamingTheFile() throws Exception {
        for (String bad : HOSTILE) {
            String json = "{\"folder_data\": [{\"folder_name\": \"clip-ok\", \"image_names\": [\"000000\"]},"
                    + " {\"folder_name\": " + jsonString(bad) + ", \"image_names\": [\"000000\"]}]}";
            Path meta = tmp.resolve("meta.json");
            Files.writeString(meta, json);
            BadInputException e = assertThrows(BadInputException.class, () -> MetadataFiles.read(meta.toString(), null, null), bad);
            assertTrue(e.getMessage().startsWith(meta + ": clip name "), e.getMessage());
            assertTrue(e.getMessage().contains("is not a plain name"), e.getMessage());
        }
        Path meta = tmp.resolve("frames.json");
        Files.writeString(meta, "{\"folder_data\": [{\"folder_name\": \"clip-ok\", \"image_names\": [\"../../x\"]}]}");
        BadInputException e = assertThrows(BadInputException.class, () -> MetadataFiles.read(meta.toString(), null, null));
        assertTrue(e.getMessage().contains("frame name in clip \"clip-ok\": \"../../x\""), e.getMessage());
        // a plain name, unicode included, is accepted
        Files.writeString(meta, "{\"folder_data\": [{\"folder_name\": \"clip é 1\", \"image_names\": [\"000000\"]}]}");
        assertEquals("clip é 1", MetadataFiles.read(meta.toString(), null, null).get(0).folderName());
    }

    @Test
    void generateRefusesAClipNameThatLeavesOutputBeforeCreatingAnything() {
        Path out = tmp.resolve("gen");
        for (String bad : HOSTILE) {
            BadInputException e = assertThrows(BadInputException.class, () -> GenerateJob.run(null, null,
                    new GenerateJob.Options("weights", List.of(bad), null, out.toString())), bad);
            assertTrue(e.getMessage().startsWith("--clip "), e.getMessage());
        }
        assertFalse(Files.exists(out));
        assertFalse(Files.exists(tmp.getParent().resolve("elsewhere")));
    }

    @Test
    void manifestItemsRelativeToTheManifestStayInItsFolder() {
        String url = tmp.resolve("m/manifest.json").toString();
        String okJson = "[{\"audio\": \"a/0.npy\", \"target\": \"./t/0.npy\"}]";
        assertEquals(tmp.resolve("m/a/0.npy").toString(), AdapterManifest.parse(okJson, url).items().get(0).audio());
        for (String bad : List.of("../secret.npy", "a/../../b.npy", "a//b.npy")) {
            String json = "[{\"audio\": \"a/0.npy\", \"target\": \"" + bad + "\"}]";
            BadInputException e = assertThrows(BadInputException.class, () -> AdapterManifest.parse(json, url), bad);
            assertTrue(e.getMessage().contains("Manifest " + url + ", item 0: \"target\" \"" + bad + "\" leaves its folder"),
                    e.getMessage());
        }
        // an absolute location is the manifest author's explicit choice
        String abs = "[{\"audio\": \"/data/a.npy\", \"target\": \"s3a://b/t.npy\"}]";
        assertEquals("/data/a.npy", AdapterManifest.parse(abs, url).items().get(0).audio());
    }

    @Test
    void latentFileNamesComeOnlyFromPlainClipNames() {
        assertEquals("clip-1.safetensors", dev.avatartrain.encode.LatentStore.clipFile("clip-1"));
        assertThrows(SafePaths.UnsafeNameException.class, () -> dev.avatartrain.encode.LatentStore.clipFile("../../x"));
    }

    @Test
    void demoClearsOnlyAFolderItMade() throws Exception {
        Path users = Files.createDirectories(tmp.resolve("users-files"));
        Files.writeString(users.resolve("thesis.tex"), "years of work");
        BadInputException e = assertThrows(BadInputException.class, () -> DemoJob.prepareOutput(users));
        assertTrue(e.getMessage().contains(users + " is not empty and was not made by demo"), e.getMessage());
        assertEquals("years of work", Files.readString(users.resolve("thesis.tex")));

        Path fresh = tmp.resolve("new/demo");
        DemoJob.prepareOutput(fresh);
        assertTrue(Files.isRegularFile(fresh.resolve(DemoJob.MARKER)));
        Files.createDirectories(fresh.resolve("checkpoints/checkpoint-2"));
        Files.writeString(fresh.resolve("metrics.jsonl"), "{}");
        DemoJob.prepareOutput(fresh); // an earlier demo's folder: cleared
        try (var l = Files.list(fresh)) {
            assertEquals(List.of(fresh.resolve(DemoJob.MARKER)), l.toList());
        }
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        DemoJob.prepareOutput(empty);
        assertTrue(Files.isRegularFile(empty.resolve(DemoJob.MARKER)));
    }

    private static String jsonString(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }
}
