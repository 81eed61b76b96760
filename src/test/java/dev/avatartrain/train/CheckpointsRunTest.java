package dev.avatartrain.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.storage.Storage;

/** Run ownership of checkpoints on real files: pruning per run, refusal and --overwrite, format versions, leftovers. */
class CheckpointsRunTest {
    static ModelState params() {
        return ModelState.of(new java.util.LinkedHashMap<>(Map.of("w", Nd4j.ones(DataType.FLOAT, 3, 2))), ModelState.DEFAULT_CHUNK_FLOATS);
    }

    static String write(Storage out, String run, long step, int limit) throws Exception {
        return new Checkpoints(out, limit, run).write(new Checkpoints.State(step, step, 1, "h", "net", Map.of()), params());
    }

    @Test
    void pruningKeepsTheNewestOfThisRunAndNeverAnotherRunsCheckpoints(@TempDir Path dir) throws Exception {
        Storage out = Storage.forUrl(dir.toString(), null);
        write(out, "old", 40, 2);
        write(out, "old", 60, 2);
        // today's pruning by step number removed the new run's checkpoint-4 and kept the old run's 40 and 60
        write(out, "new", 4, 2);
        write(out, "new", 6, 2);
        write(out, "new", 8, 2);
        Map<String, List<Long>> runs = new Checkpoints(out, 2).runs();
        assertEquals(List.of(6L, 8L), runs.get("new"));
        assertEquals(List.of(40L, 60L), runs.get("old"));
        assertTrue(new Checkpoints(out, 2, "new").latest().endsWith("checkpoint-8"));
        String state = Files.readString(dir.resolve("checkpoints/checkpoint-8/training_state.json"));
        assertTrue(state.contains("\"runId\" : \"new\"") && state.contains("\"formatVersion\" : " + Checkpoints.FORMAT_VERSION), state);
    }

    @Test
    void latestSkipsATruncatedNewestCheckpointAndAnEarlierOneOfTheSameRunMayBeNamed(@TempDir Path dir) throws Exception {
        Storage out = Storage.forUrl(dir.toString(), null);
        write(out, "run", 40, 5);
        write(out, "run", 60, 5);
        write(out, "run", 80, 5);
        Path model = dir.resolve("checkpoints/checkpoint-80/model.safetensors");
        byte[] whole = Files.readAllBytes(model);
        Files.write(model, java.util.Arrays.copyOf(whole, whole.length - 5)); // truncated, its state file intact
        Checkpoints.Run r = Checkpoints.claim(out, "latest", false, List.of(), Checkpoints.Hints.TRAIN, null);
        assertEquals("run", r.id());
        assertTrue(r.resumeFrom().endsWith("checkpoints/checkpoint-60"), r.resumeFrom());
        assertFalse(Files.exists(dir.resolve("checkpoints/checkpoint-80")), "the truncated one moved aside");
        try (var aside = Files.walk(dir.resolve(Checkpoints.PREVIOUS_RUNS))) {
            assertTrue(aside.anyMatch(p -> p.endsWith("checkpoints/checkpoint-80/model.safetensors")));
        }
        // naming an earlier checkpoint of the same run: allowed, its later ones moved aside (not deleted)
        Checkpoints.Run back = Checkpoints.claim(out, dir.resolve("checkpoints/checkpoint-40").toString(), false, List.of(),
                Checkpoints.Hints.TRAIN, null);
        assertEquals("run", back.id());
        assertEquals(List.of(40L), new Checkpoints(out, 5).runs().get("run"));
        try (var aside = Files.walk(dir.resolve(Checkpoints.PREVIOUS_RUNS))) {
            assertTrue(aside.anyMatch(p -> p.endsWith("checkpoints/checkpoint-60/training_state.json")));
        }
    }

    @Test
    void divergenceNamesTheNewestCheckpointWhoseWeightsAreFinite(@TempDir Path dir) throws Exception {
        Storage out = Storage.forUrl(dir.toString(), null);
        write(out, "r", 2, 5);
        ModelState nan = ModelState.of(new java.util.LinkedHashMap<>(Map.of("w",
                Nd4j.valueArrayOf(new long[]{3, 2}, Float.NaN, DataType.FLOAT))), ModelState.DEFAULT_CHUNK_FLOATS);
        new Checkpoints(out, 5, "r").write(new Checkpoints.State(4, 4, 1, "h", "net", Map.of()), nan);
        assertTrue(new Checkpoints(out, 5, "r").latest().endsWith("checkpoint-4"), "the last one written");
        assertTrue(new Checkpoints(out, 5, "r").newestFinite().endsWith("checkpoint-2"), "the one really finite");
    }

    @Test
    void aNewRunIntoAnotherRunsCheckpointsIsRefusedOrMovesThemAside(@TempDir Path dir) throws Exception {
        Storage out = Storage.forUrl(dir.toString(), null);
        write(out, "old", 40, 5);
        write(out, "old", 60, 5);
        Files.writeString(dir.resolve("metrics.jsonl"), "{\"step\":60}\n");
        BadInputException e = assertThrows(BadInputException.class,
                () -> Checkpoints.claim(out, null, false, List.of("metrics.jsonl"), Checkpoints.Hints.TRAIN, null));
        assertTrue(e.getMessage().contains("run old: checkpoint-40, checkpoint-60"), e.getMessage());
        assertTrue(e.getMessage().contains("--set model.resume_from_checkpoint=latest") && e.getMessage().contains("data.output_dir")
                && e.getMessage().contains("--overwrite"), e.getMessage());
        assertTrue(Files.exists(dir.resolve("checkpoints/checkpoint-60/model.safetensors")));

        // latest continues the run that is there
        Checkpoints.Run resumed = Checkpoints.claim(out, "latest", false, List.of(), Checkpoints.Hints.TRAIN, null);
        assertEquals("old", resumed.id());
        assertTrue(resumed.resumeFrom().endsWith("checkpoints/checkpoint-60"), resumed.resumeFrom());

        Checkpoints.Run fresh = Checkpoints.claim(out, null, true, List.of("metrics.jsonl"), Checkpoints.Hints.TRAIN, null);
        assertEquals(null, fresh.resumeFrom());
        assertFalse(fresh.id().equals("old"));
        assertFalse(Files.exists(dir.resolve("checkpoints/checkpoint-60")));
        assertFalse(Files.exists(dir.resolve("metrics.jsonl")));
        try (var aside = Files.list(dir.resolve(Checkpoints.PREVIOUS_RUNS))) {
            Path moved = aside.findFirst().orElseThrow();
            assertTrue(Files.exists(moved.resolve("checkpoints/checkpoint-40/training_state.json")));
            assertTrue(Files.exists(moved.resolve("checkpoints/checkpoint-60/model.safetensors")));
            assertEquals("{\"step\":60}\n", Files.readString(moved.resolve("metrics.jsonl")));
        }
    }

    @Test
    void formatsAreVersionedAndAMissingFolderIsSaidAsSuch(@TempDir Path dir) throws Exception {
        Storage out = Storage.forUrl(dir.toString(), null);
        String loc = write(out, "r", 2, 3);
        Path state = dir.resolve("checkpoints/checkpoint-2/training_state.json");
        Files.writeString(state, Files.readString(state).replace("\"formatVersion\" : 2", "\"formatVersion\" : 9"));
        BadInputException e = assertThrows(BadInputException.class, () -> Checkpoints.load(loc, null, params().layout()));
        assertTrue(e.getMessage().contains("format 9 by a newer avatar-train") && e.getMessage().contains("up to 2"), e.getMessage());

        // format 1 (no run id, no version) reads as the unrecorded run and resumes as such
        Files.writeString(state, "{\"step\":2,\"round\":2,\"seed\":1,\"configHash\":\"h\",\"network\":\"net\",\"info\":{}}");
        assertEquals(Checkpoints.UNRECORDED_RUN, Checkpoints.claim(out, "latest", false, List.of(), Checkpoints.Hints.TRAIN, null).id());

        String missing = dir.resolve("checkpoints/checkpoint-999").toString();
        e = assertThrows(BadInputException.class, () -> Checkpoints.claim(out, missing, false, List.of(), Checkpoints.Hints.TRAIN, null));
        assertTrue(e.getMessage().contains("no such checkpoint folder") && !e.getMessage().contains("not a complete"), e.getMessage());
    }

    @Test
    void leftoverTemporaryFilesAreRemovedWhenTheNextRunStarts(@TempDir Path dir) throws Exception {
        Storage out = Storage.forUrl(dir.toString(), null);
        write(out, "r", 2, 3);
        Path tmp = dir.resolve("checkpoints/checkpoint-4/.model.safetensors.123.tmp");
        Files.createDirectories(tmp.getParent());
        Files.write(tmp, new byte[1000]);
        Path top = dir.resolve(".metrics.jsonl.5.tmp");
        Files.writeString(top, "x", StandardCharsets.UTF_8);
        Checkpoints.claim(out, "latest", false, List.of(), Checkpoints.Hints.TRAIN, null);
        assertFalse(Files.exists(tmp));
        assertFalse(Files.exists(top));
        assertTrue(Files.exists(dir.resolve("checkpoints/checkpoint-2/model.safetensors")));
    }
}
