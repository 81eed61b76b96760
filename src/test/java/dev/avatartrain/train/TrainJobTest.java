package dev.avatartrain.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import dev.avatartrain.train.spark.SparkTrainer;
import dev.avatartrain.cli.Main;
import dev.avatartrain.config.AppConfig;
import dev.avatartrain.encode.LatentStore;
import dev.avatartrain.jobs.DemoJob;
import dev.avatartrain.jobs.EncodeJob;
import dev.avatartrain.jobs.MakeMetadataJob;
import dev.avatartrain.jobs.SynthJob;
import dev.avatartrain.jobs.TrainJob;
import dev.avatartrain.synth.SyntheticClips;
import dev.avatartrain.tensors.Safetensors;

/** encode + train end to end on local[2] with real files: bad frames, incremental encode, checkpoints, exact resume, export. */
class TrainJobTest {
    static SparkSession spark;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("TrainJobTest").config("spark.ui.enabled", "false").getOrCreate();
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    static AppConfig config(Path dir, String out, String... more) {
        List<String> o = new ArrayList<>(List.of("data.local_data_base_url=" + dir.resolve("data"), "data.s3_data_base_url=",
                "data.metadata_url=" + dir.resolve("metadata.json"), "data.output_dir=" + dir.resolve(out), "data.IMAGE_SIZE=32",
                "train.max_train_steps=4", "train.validation_steps=2", "train.checkpointing_steps=2", "train.checkpoints_total_limit=1",
                "train.num_workers=2", "train.train_batch_size=2", "train.validation_fraction=0.25", "optimizer.lr_scheduler=cosine",
                "optimizer.lr_warmup_steps=1", "model.vae_pretrained_model_name_or_path=random",
                "model.unet_config_file=configuration/unet/tiny.json"));
        o.addAll(List.of(more));
        return AppConfig.load(DemoJob.demoConfigDir(), o);
    }

    /** 4 clips × 8 frames; frame 3 of clip 1 is corrupt and frame 5 of clip 2 has no audio. */
    static void sampleData(Path dir) throws Exception {
        Path data = dir.resolve("data");
        SynthJob.run(data, new SyntheticClips.Spec(4, 8, 32, 2, 32, 5, "aligned-frames", "audio"));
        Files.write(data.resolve("aligned-frames/HDTF-0001/000003.png"), "not a png".getBytes(StandardCharsets.UTF_8));
        Files.delete(data.resolve("audio/HDTF-0002/000005.npy"));
        // the calling test class's session (TrainRunOwnershipTest uses this too, with its own)
        MakeMetadataJob.run(SparkSession.active(), new MakeMetadataJob.Options(MakeMetadataJob.Mode.scan, data.toString(),
                dir.resolve("metadata.json").toString(), null, false, false, "aligned-frames", "audio"));
    }

    @Test
    void encodeSkipsBadFramesThenTrainsResumesExactlyAndExports(@TempDir Path dir) throws Exception {
        sampleData(dir);
        AppConfig full = config(dir, "a");
        EncodeJob.Summary s = EncodeJob.run(spark, full);
        assertEquals(4, s.encoded());
        assertEquals(4 * 8 - 2, s.frames());
        assertEquals(2, s.skipped().size());
        assertTrue(s.skipped().stream().anyMatch(k -> k.path().equals("aligned-frames/HDTF-0001/000003.png")), s.skipped().toString());
        assertTrue(s.skipped().stream().anyMatch(k -> k.path().endsWith("audio/HDTF-0002/000005.npy")), s.skipped().toString());
        String report = Files.readString(dir.resolve("a").resolve(s.folder()).resolve("skipped-frames.json"));
        assertTrue(report.contains("HDTF-0001/000003.png"), report);

        EncodeJob.Summary again = EncodeJob.run(spark, full);
        assertEquals(0, again.encoded());
        assertEquals(4, again.cached());

        SparkTrainer.Result a = TrainJob.run(spark, full, 0);
        assertEquals(4, a.step());
        Path ckptA = dir.resolve("a/checkpoints/checkpoint-4");
        assertTrue(Files.exists(ckptA.resolve(Checkpoints.STATE)));
        assertFalse(Files.exists(dir.resolve("a/checkpoints/checkpoint-2")), "checkpoints_total_limit 1 keeps only the newest");
        for (String f : List.of("metrics.jsonl", "metrics.csv", "loss.png", "validation/latest.png", "effective-config.yaml")) {
            assertTrue(Files.size(dir.resolve("a").resolve(f)) > 0, f);
        }
        assertEquals(3, a.validations().size()); // steps 0, 2, 4

        // the same run in two sessions: stop after step 2, then resume from the latest checkpoint
        AppConfig split = config(dir, "b");
        EncodeJob.run(spark, split);
        assertEquals(2, TrainJob.run(spark, split, 2).step());
        SparkTrainer.Result b = TrainJob.run(spark, config(dir, "b", "model.resume_from_checkpoint=latest"), 0);
        assertEquals(4, b.step());
        Map<String, INDArray> wa = Safetensors.read(ckptA.resolve(Checkpoints.MODEL)).tensors();
        Map<String, INDArray> wb = Safetensors.read(dir.resolve("b/checkpoints/checkpoint-4").resolve(Checkpoints.MODEL)).tensors();
        assertEquals(wa.keySet(), wb.keySet());
        for (String n : wa.keySet()) {
            assertEquals(0.0, wa.get(n).sub(wb.get(n)).amaxNumber().doubleValue(), 1e-6, n);
        }
        long rows = Files.readAllLines(dir.resolve("b/metrics.jsonl")).size();
        assertEquals(Files.readAllLines(dir.resolve("a/metrics.jsonl")).size(), rows, "resumed metrics keep the rows up to the checkpoint");

        // export: fp16, same names; diffusers loads it strictly
        Path exported = dir.resolve("unet-fp16.safetensors");
        assertEquals(0, Main.run("export", "--checkpoint", ckptA.toString(), "--output", exported.toString(), "--dtype", "fp16"));
        Map<String, INDArray> e = Safetensors.read(exported).tensors();
        assertEquals(wa.keySet(), e.keySet());
        assertEquals(DataType.HALF, e.values().iterator().next().dataType());
        checkInDiffusers(exported);
    }

    @Test
    void aCheckpointWithoutItsStateFileIsIgnoredAndExportRefusesIt(@TempDir Path dir) throws Exception {
        sampleData(dir);
        AppConfig c = config(dir, "out", "train.max_train_steps=2");
        EncodeJob.run(spark, c);
        TrainJob.run(spark, c, 0);
        Path done = dir.resolve("out/checkpoints/checkpoint-2");
        Path broken = dir.resolve("out/checkpoints/checkpoint-3");
        Files.createDirectories(broken);
        Files.copy(done.resolve(Checkpoints.MODEL), broken.resolve(Checkpoints.MODEL));
        Checkpoints ck = new Checkpoints(dev.avatartrain.storage.Storage.forUrl(dir.resolve("out").toString(), null), 5);
        assertEquals(List.of(2L), ck.completeSteps());
        assertEquals(Main.EXIT_BAD_INPUT, Main.run("export", "--checkpoint", broken.toString(), "--output", dir.resolve("x.safetensors").toString()));
        assertFalse(Files.exists(dir.resolve("x.safetensors")));
        LatentStore.Index index = LatentStore.readIndex(dev.avatartrain.storage.Storage.forUrl(dir.resolve("out").toString(), null),
                LatentStore.folder("random-0", 32));
        assertEquals(4, index.clips().size());
    }

    /**
     * An exported checkpoint is diffusers' state dict of configuration/unet/tiny.json (names and shapes stored by
     * make_unet_fixtures.py) with finite values; where the originals are here, the live check loads it into diffusers
     * with strict=True and runs it.
     */
    static void checkInDiffusers(Path weights) throws Exception {
        dev.avatartrain.models.unet.UNetExportTest.assertDiffusersStateDict("tiny", Safetensors.read(weights).tensors(),
                weights.toString());
        dev.avatartrain.testing.Originals.liveCheck("exported checkpoint loads strictly into diffusers", true,
                "src/test/scripts/make_unet_fixtures.py", "--check-checkpoint", "configuration/unet/tiny.json",
                weights.toString());
    }
}
