package dev.avatartrain.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

import com.fasterxml.jackson.databind.ObjectMapper;

import dev.avatartrain.train.spark.SparkTrainer;
import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.jobs.DemoJob;
import dev.avatartrain.jobs.TrainAdapterJob;
import dev.avatartrain.synth.SyntheticAdapterData;
import dev.avatartrain.tensors.Npy;
import dev.avatartrain.train.adapter.AdapterOptions;

/**
 * train-adapter into a folder holding an earlier run: a manifest with bad items deep inside and a fresh run are both
 * refused before anything is written; --overwrite moves the earlier run aside whole; resume continues the new run.
 */
class AdapterRunOwnershipTest {
    static SparkSession spark;
    static final List<String> OUTPUTS = List.of("metrics.jsonl", "metrics.csv", "loss.png", "adapter.safetensors", "effective-config.yaml");

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("AdapterRunOwnershipTest").config("spark.ui.enabled", "false").getOrCreate();
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    static AdapterOptions options(Path manifest, Path out, Object... kv) {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("manifest", manifest.toString());
        o.put("output_dir", out.toString());
        o.put("dashboard_port", 0); // a key of train-adapter now (it was refused)
        for (int i = 0; i < kv.length; i += 2) o.put((String) kv[i], kv[i + 1]);
        return AdapterOptions.load(Path.of("configuration/demo/train_adapter.yaml"), List.of(), o);
    }

    static Map<String, byte[]> snapshot(Path out) throws Exception {
        Map<String, byte[]> s = new LinkedHashMap<>();
        for (String f : OUTPUTS) s.put(f, Files.readAllBytes(out.resolve(f)));
        try (var l = Files.list(out.resolve(Checkpoints.DIR))) {
            l.sorted().forEach(p -> s.put(p.getFileName().toString(), new byte[0]));
        }
        return s;
    }

    static void assertSame(Map<String, byte[]> before, Path out) throws Exception {
        Map<String, byte[]> now = snapshot(out);
        assertEquals(before.keySet(), now.keySet());
        for (String f : before.keySet()) assertArrayEquals(before.get(f), now.get(f), f + " changed");
    }

    @Test
    void refusedRunsLeaveTheEarlierRunWholeAndOverwriteMovesItAside(@TempDir Path dir) throws Exception {
        Path manifest = SyntheticAdapterData.write(dir.resolve("data"), options(dir.resolve("m.json"), dir).model(), 12, 3);
        Path out = dir.resolve("out");
        SparkTrainer.Result a = TrainAdapterJob.run(spark, options(manifest, out, "epochs", 4, "checkpointing_steps", 2,
                "checkpoints_total_limit", 2), DemoJob.demoConfigDir());
        Map<String, byte[]> before = snapshot(out);
        assertTrue(Files.readAllLines(out.resolve("metrics.jsonl")).size() > 3);

        // 70 items (checked by Spark tasks), three bad ones deep inside: all named at once, nothing written
        ObjectMapper json = new ObjectMapper();
        List<Map<String, Object>> items = new ArrayList<>();
        List<?> good = json.readValue(manifest.toFile(), List.class);
        for (int i = 0; i < 70; i++) items.add(new LinkedHashMap<>((Map<String, Object>) good.get(i % good.size())));
        Npy.write(dir.resolve("data/bad-audio.npy"), Nd4j.zeros(DataType.FLOAT, 5, 3, 16));
        Npy.write(dir.resolve("data/int-audio.npy"), Nd4j.zeros(DataType.INT, 5, 2, 16));
        Npy.write(dir.resolve("data/bad-target.npy"), Nd4j.zeros(DataType.FLOAT, 1, 4, 8));
        items.get(33).put("audio", "bad-audio.npy");
        items.get(50).put("audio", "int-audio.npy");
        items.get(61).put("target", "bad-target.npy");
        Path bad = dir.resolve("data/bad-manifest.json");
        json.writeValue(bad.toFile(), items);
        BadInputException e = assertThrows(BadInputException.class,
                () -> TrainAdapterJob.run(spark, options(bad, out, "epochs", 1), DemoJob.demoConfigDir()));
        assertTrue(e.getMessage().startsWith("3 of 70 items"), e.getMessage());
        assertTrue(e.getMessage().contains("item 33: audio") && e.getMessage().contains("[5, 3, 16]"), e.getMessage());
        assertTrue(e.getMessage().contains("item 50: audio") && e.getMessage().contains("dtype I32"), e.getMessage());
        assertTrue(e.getMessage().contains("item 61: target") && e.getMessage().contains("[1, 4, 8]"), e.getMessage());
        assertSame(before, out);

        // a fresh run into the folder: refused, naming the earlier run's checkpoints and the ways on
        e = assertThrows(BadInputException.class, () -> TrainAdapterJob.run(spark, options(manifest, out, "epochs", 1), DemoJob.demoConfigDir()));
        String[] earlier = before.keySet().stream().filter(k -> k.startsWith("checkpoint-")).toArray(String[]::new);
        for (String c : earlier) assertTrue(e.getMessage().contains(c), e.getMessage());
        assertTrue(e.getMessage().contains("--set resume_from_checkpoint=latest") && e.getMessage().contains("--output-dir")
                && e.getMessage().contains("--overwrite"), e.getMessage());
        assertSame(before, out);

        // --overwrite: the earlier run moves aside whole; the new run's low-numbered checkpoints are kept (they were pruned)
        SparkTrainer.Result b = TrainAdapterJob.run(spark, options(manifest, out, "epochs", 1, "checkpointing_steps", 1, "checkpoints_total_limit", 2),
                DemoJob.demoConfigDir(), true);
        assertTrue(b.step() < a.step());
        assertTrue(Files.exists(dev.avatartrain.storage.StorageUrl.parse(b.lastCheckpoint(), "checkpoint").localPath().resolve(Checkpoints.STATE)),
                b.lastCheckpoint());
        Path aside;
        try (var l = Files.list(out.resolve(Checkpoints.PREVIOUS_RUNS))) {
            aside = l.findFirst().orElseThrow();
        }
        for (String f : OUTPUTS) assertArrayEquals(before.get(f), Files.readAllBytes(aside.resolve(f)), f);
        for (String c : earlier) assertTrue(Files.exists(aside.resolve(Checkpoints.DIR).resolve(c).resolve(Checkpoints.STATE)), c);
        String runB = Checkpoints.readState(b.lastCheckpoint(), null).runId();

        // resume latest continues the new run's lineage
        SparkTrainer.Result b2 = TrainAdapterJob.run(spark, options(manifest, out, "epochs", 2, "checkpointing_steps", 1, "checkpoints_total_limit", 2,
                "resume_from_checkpoint", "latest"), DemoJob.demoConfigDir());
        assertTrue(b2.step() > b.step());
        assertEquals(runB, Checkpoints.readState(b2.lastCheckpoint(), null).runId());
        assertEquals(Map.of(runB, List.of(b2.step() - 1, b2.step())), new Checkpoints(dev.avatartrain.storage.Storage.forUrl(out.toString(), null), 2).runs());
    }
}
