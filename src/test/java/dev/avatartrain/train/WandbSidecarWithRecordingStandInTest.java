package dev.avatartrain.train;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.avatartrain.jobs.EncodeJob;
import dev.avatartrain.jobs.MakeMetadataJob;
import dev.avatartrain.jobs.SynthJob;
import dev.avatartrain.jobs.TrainJob;
import dev.avatartrain.synth.SyntheticClips;
import dev.avatartrain.wandb.WandbSidecar;

/**
 * The W&B sidecar's logic with the real Python process and the real driver, against a <b>recording stand-in</b> for the
 * {@code wandb} module (src/test/resources/wandb-stand-in; the real SDK does not install on the CI machine, see
 * {@code WandbOfflineSdkTest}): what a two-session run sends, what a run that dies sends, and the one line a driver
 * without {@code wandb} prints.
 */
class WandbSidecarWithRecordingStandInTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    static SparkSession spark;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("WandbSidecarTest").config("spark.ui.enabled", "false").getOrCreate();
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    @AfterEach
    void clear() {
        System.clearProperty("AVATAR_TRAIN_PYTHON");
    }

    /** A python3 whose {@code import wandb} finds {@code moduleDir}'s package; calls recorded in the returned file. */
    private Path python(Path moduleDir) throws Exception {
        Path record = dir.resolve("wandb-calls.jsonl");
        Path wrapper = dir.resolve("python-with-stand-in");
        Files.writeString(wrapper, "#!/bin/sh\nPYTHONPATH='" + moduleDir + "' WANDB_STAND_IN_RECORD='" + record + "' exec python3 \"$@\"\n");
        Files.setPosixFilePermissions(wrapper, PosixFilePermissions.fromString("rwxr-xr-x"));
        System.setProperty("AVATAR_TRAIN_PYTHON", wrapper.toString());
        return record;
    }

    private static List<JsonNode> calls(Path record, String call) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(record)) {
            JsonNode n = JSON.readTree(line);
            if (n.get("call").asText().equals(call)) out.add(n);
        }
        return out;
    }

    @Test
    void aRunInTwoSessionsIsStreamedToTheStandInAsOneWandbRun() throws Exception {
        Path record = python(Path.of("src/test/resources/wandb-stand-in"));
        Path data = dir.resolve("data");
        SynthJob.run(data, new SyntheticClips.Spec(4, 8, 32, 2, 32, 5, "aligned-frames", "audio"));
        MakeMetadataJob.run(spark, new MakeMetadataJob.Options(MakeMetadataJob.Mode.scan, data.toString(), dir.resolve("metadata.json").toString(),
                null, false, false, "aligned-frames", "audio"));
        EncodeJob.run(spark, TrainJobTest.config(dir, "out", "train.dashboard_port=0", "train.wandb_enabled=true"));
        TrainJob.run(spark, TrainJobTest.config(dir, "out", "train.dashboard_port=0", "train.wandb_enabled=true"), 2);
        TrainJob.run(spark, TrainJobTest.config(dir, "out", "train.dashboard_port=0", "train.wandb_enabled=true",
                "model.resume_from_checkpoint=latest"), 0);

        List<JsonNode> inits = calls(record, "init");
        assertEquals(2, inits.size());
        assertEquals(inits.get(0).get("id"), inits.get(1).get("id"), "the resumed session continues the same W&B run");
        assertEquals("allow", inits.get(1).get("resume").asText());
        assertEquals(4, inits.get(0).at("/config/train/max_train_steps").asInt(), inits.get(0).toString());
        assertEquals(32, inits.get(0).at("/config/data/IMAGE_SIZE").asInt());

        // every training row of metrics.jsonl, with its value, at its step
        List<JsonNode> logs = calls(record, "log");
        List<Long> trainSteps = new ArrayList<>();
        for (String line : Files.readAllLines(dir.resolve("out/metrics.jsonl"))) {
            JsonNode row = JSON.readTree(line);
            if (!row.has("train_loss")) continue;
            JsonNode sent = logs.stream().filter(l -> l.get("step").asLong() == row.get("step").asLong() && l.at("/data/train~1loss").isNumber())
                    .findFirst().orElseThrow(() -> new AssertionError("no train/loss at step " + row.get("step")));
            assertEquals(row.get("train_loss").asDouble(), sent.at("/data/train~1loss").asDouble(), 1e-9);
            assertEquals(row.get("lr").asDouble(), sent.at("/data/train~1learning_rate").asDouble(), 1e-12);
            trainSteps.add(row.get("step").asLong());
        }
        assertEquals(List.of(1L, 2L, 3L, 4L), trainSteps);
        List<Long> valSteps = logs.stream().filter(l -> l.at("/data/validation~1loss").isNumber()).map(l -> l.get("step").asLong()).toList();
        assertEquals(List.of(0L, 2L, 4L), valSteps);
        List<JsonNode> grids = logs.stream().filter(l -> l.at("/data/validation~1grid/image").isArray()).toList();
        assertEquals(List.of(0L, 2L, 4L), grids.stream().map(l -> l.get("step").asLong()).toList(), "one image per validation");
        assertTrue(grids.get(0).at("/data/validation~1grid/image/0").asInt() > 0);
        assertEquals(2, logs.stream().filter(l -> l.at("/data/loss/image").isArray()).count(), "the loss plot at each session's end");

        List<JsonNode> artifacts = calls(record, "log_artifact");
        assertEquals(2, artifacts.size());
        String ref = artifacts.get(1).at("/references/0").asText();
        assertTrue(ref.startsWith("file:/") && ref.contains("checkpoint-4"), artifacts.toString());
        assertEquals("model", artifacts.get(1).get("type").asText());
        assertEquals(List.of(0, 0), calls(record, "finish").stream().map(f -> f.get("exit_code").asInt()).toList());
    }

    @Test
    void aDriverThatStopsWithoutFinishingEndsTheWandbRunAsFailed() throws Exception {
        Path record = python(Path.of("src/test/resources/wandb-stand-in"));
        WandbSidecar s = WandbSidecar.start("run-1", "r", Map.of("a", 1));
        assertNotNull(s);
        s.log(1, Map.of("train/loss", 0.5, "note", "text is left out", "nan", Double.NaN));
        s.close();
        assertEquals(1, calls(record, "finish").get(0).get("exit_code").asInt());
        JsonNode log = calls(record, "log").get(0);
        assertEquals(1, log.get("data").size(), log.toString());
        assertEquals(0.5, log.at("/data/train~1loss").asDouble());
    }

    @Test
    void withoutAnImportableWandbOneLineSaysWhatToInstall() throws Exception {
        Path broken = dir.resolve("broken/wandb");
        Files.createDirectories(broken);
        Files.writeString(broken.resolve("__init__.py"), "raise ModuleNotFoundError(\"No module named 'opentelemetry.semconv'\")\n");
        python(broken.getParent());
        String log = TrackingTest.captured(() -> assertNull(WandbSidecar.start("run-2", "r", Map.of())));
        List<String> lines = log.lines().filter(l -> l.contains("wandb_enabled")).toList();
        assertEquals(1, lines.size(), log);
        assertTrue(lines.get(0).contains("pip install wandb") && lines.get(0).contains("opentelemetry.semconv")
                && lines.get(0).contains("training goes on without W&B"), lines.get(0));
    }
}
