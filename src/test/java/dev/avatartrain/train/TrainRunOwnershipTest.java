package dev.avatartrain.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.apache.commons.io.FileUtils;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

import dev.avatartrain.train.spark.SparkTrainer;
import dev.avatartrain.config.AppConfig;
import dev.avatartrain.data.ClipLatents;
import dev.avatartrain.data.ClipSplit;
import dev.avatartrain.encode.LatentStore;
import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.jobs.DemoJob;
import dev.avatartrain.jobs.EncodeJob;
import dev.avatartrain.jobs.MakeMetadataJob;
import dev.avatartrain.jobs.SynthJob;
import dev.avatartrain.jobs.TrainJob;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.synth.SyntheticClips;
import dev.avatartrain.tensors.Npy;

/**
 * encode + train with bad input on real files and local[2]: clips whose audio shapes disagree (encode) or do not fit
 * the UNet (train, a clip after the first), a checkpoint write killed in a child JVM, another run's checkpoints.
 */
class TrainRunOwnershipTest {
    @TempDir
    static Path dir;
    static SparkSession spark;
    static AppConfig base;

    @BeforeAll
    static void start() throws Exception {
        spark = SparkSession.builder().master("local[2]").appName("TrainRunOwnershipTest").config("spark.ui.enabled", "false").getOrCreate();
        TrainJobTest.sampleData(dir);
        base = TrainJobTest.config(dir, "base");
        EncodeJob.run(spark, base);
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    /** A fresh output_dir holding a copy of the encoded latents. */
    static String withLatents(String name) throws Exception {
        FileUtils.copyDirectory(dir.resolve("base/latents").toFile(), dir.resolve(name + "/latents").toFile());
        return name;
    }

    static String folder() {
        return LatentStore.folder("random-0", 32);
    }

    /** Ctrl-C on a real `train` process: one line with the resume command, exit 130, no stack trace; resumable. */
    @Test
    void sigintStopsTrainingWithOneLineAndTheResumeCommand() throws Exception {
        String out = withLatents("sigint");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .filter(a -> !a.startsWith("-agentlib") && !a.startsWith("-Xmx")).toList());
        cmd.addAll(List.of("-Xmx2g", "-cp", System.getProperty("java.class.path"), dev.avatartrain.cli.Main.class.getName(),
                "train", "--master", "local[2]", "--config-dir", DemoJob.demoConfigDir().toString()));
        List<String> sets = new ArrayList<>(List.of("data.local_data_base_url=" + dir.resolve("data"), "data.s3_data_base_url=",
                "data.metadata_url=" + dir.resolve("metadata.json"), "data.output_dir=" + dir.resolve(out), "data.IMAGE_SIZE=32",
                "train.max_train_steps=100000", "train.validation_steps=100000", "train.checkpointing_steps=2",
                "train.num_workers=2", "train.train_batch_size=2", "train.validation_fraction=0.25",
                "model.vae_pretrained_model_name_or_path=random", "model.unet_config_file=configuration/unet/tiny.json"));
        for (String v : sets) cmd.addAll(List.of("--set", v));
        Path log = dir.resolve("sigint.log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(4);
            while (!Files.exists(dir.resolve(out + "/checkpoints/checkpoint-2/training_state.json")) && p.isAlive()
                    && System.nanoTime() < deadline) Thread.sleep(200);
            assertTrue(p.isAlive(), "training runs: " + Files.readString(log));
            new ProcessBuilder("kill", "-INT", String.valueOf(p.pid())).start().waitFor();
            assertTrue(p.waitFor(2, TimeUnit.MINUTES), "stopped");
        } finally {
            p.destroyForcibly();
        }
        String said = Files.readString(log);
        assertEquals(130, p.exitValue(), said);
        assertTrue(said.contains("stopped by SIGINT; the checkpoints written so far are complete. Resume with: avatar-train train"
                + " --master 'local[2]' --config-dir "), said);
        assertTrue(said.lines().filter(l -> l.startsWith("stopped by SIGINT"))
                .allMatch(l -> l.endsWith("--set model.resume_from_checkpoint=latest")), said);
        assertFalse(said.contains("Exception") || said.contains("\tat "), said);
        Checkpoints.Run again = Checkpoints.claim(Storage.forUrl(dir.resolve(out).toString(), null), "latest", false, List.of(),
                Checkpoints.Hints.TRAIN, null);
        assertTrue(again.resumeFrom() != null, "the run resumes from its checkpoint");
    }

    @Test
    void aLaterClipWhoseAudioDoesNotFitTheUNetIsRefusedBeforeAnythingIsWritten() throws Exception {
        String out = withLatents("shapes");
        Storage s = Storage.forUrl(dir.resolve(out).toString(), null);
        LatentStore.Index index = LatentStore.readIndex(s, folder());
        ClipSplit split = ClipSplit.of(LatentStore.clipNames(index), base.train().validationFraction(), base.train().seed());
        String odd = split.train().get(split.train().size() - 1); // not the clip today's check probes
        ClipLatents c = LatentStore.readClip(s, folder(), odd);
        LatentStore.writeClip(s, folder(), new ClipLatents(odd, c.frameNames(), c.latents(), c.maskedLatents(),
                Nd4j.randn(DataType.FLOAT, c.latents().size(0), 4, 16)), List.of(), "random-0", 32, "x");
        List<LatentStore.IndexEntry> entries = new ArrayList<>();
        for (LatentStore.IndexEntry e : index.clips()) {
            entries.add(new LatentStore.IndexEntry(e.clip(), e.file(), e.frames(), e.skipped(), e.sourceHash(),
                    e.clip().equals(odd) ? new long[]{4, 16} : e.audioShape()));
        }
        LatentStore.writeIndex(s, folder(), new LatentStore.Index(index.vae(), index.imageSize(), entries, index.formatVersion()));
        BadInputException e = assertThrows(BadInputException.class, () -> TrainJob.run(spark, TrainJobTest.config(dir, out), 0));
        assertTrue(e.getMessage().contains("[4, 16] in " + odd) && e.getMessage().contains("cross_attention_dim 32"), e.getMessage());

        // an index of format 1 (no shapes): the clip files' headers are read instead
        List<LatentStore.IndexEntry> legacy = new ArrayList<>();
        for (LatentStore.IndexEntry x : entries) legacy.add(new LatentStore.IndexEntry(x.clip(), x.file(), x.frames(), x.skipped(), x.sourceHash(), null));
        LatentStore.writeIndex(s, folder(), new LatentStore.Index(index.vae(), index.imageSize(), legacy, 1));
        e = assertThrows(BadInputException.class, () -> TrainJob.run(spark, TrainJobTest.config(dir, out), 0));
        assertTrue(e.getMessage().contains("[4, 16] in " + odd), e.getMessage());
        for (String f : List.of("metrics.jsonl", "loss.png", "effective-config.yaml", "checkpoints")) assertFalse(Files.exists(dir.resolve(out).resolve(f)), f);
    }

    @Test
    void encodeRefusesACacheWhoseClipsDisagreeOnTheAudioShapeAndWritesItsConfig() throws Exception {
        assertTrue(Files.exists(dir.resolve("base").resolve(folder()).resolve(AppConfig.EFFECTIVE_CONFIG_FILE)));
        Path data = dir.resolve("mixed");
        SynthJob.run(data, new SyntheticClips.Spec(3, 3, 32, 2, 32, 5, "aligned-frames", "audio"));
        try (var l = Files.list(data.resolve("audio/HDTF-0002"))) {
            for (Path p : l.toList()) Npy.write(p, Nd4j.zeros(DataType.FLOAT, 4, 16));
        }
        MakeMetadataJob.run(spark, new MakeMetadataJob.Options(MakeMetadataJob.Mode.scan, data.toString(), dir.resolve("mixed.json").toString(),
                null, false, false, "aligned-frames", "audio"));
        AppConfig c = AppConfig.load(dev.avatartrain.jobs.DemoJob.demoConfigDir(), List.of("data.local_data_base_url=" + data,
                "data.s3_data_base_url=", "data.metadata_url=" + dir.resolve("mixed.json"), "data.output_dir=" + dir.resolve("mixed-out"),
                "data.IMAGE_SIZE=32", "train.num_workers=2"));
        BadInputException e = assertThrows(BadInputException.class, () -> EncodeJob.run(spark, c));
        assertTrue(e.getMessage().contains("[2, 32] in 2 clip(s): HDTF-0001, HDTF-0003") && e.getMessage().contains("[4, 16] in 1 clip(s): HDTF-0002"),
                e.getMessage());
        assertFalse(Files.exists(dir.resolve("mixed-out").resolve(folder()).resolve(LatentStore.INDEX)));
    }

    @Test
    void aKilledCheckpointWriteLeavesNoTemporaryFileAndRunsOwnTheirCheckpoints() throws Exception {
        String out = withLatents("kill");
        Path outDir = dir.resolve(out);
        String[] sizes = {"train.max_train_steps=4", "train.checkpoints_total_limit=2"};
        assertEquals(2, TrainJob.run(spark, TrainJobTest.config(dir, out, sizes), 2).step());
        String run = Checkpoints.readState(outDir.resolve("checkpoints/checkpoint-2").toString(), null).runId();

        // a child JVM writes a large checkpoint-4 and is killed in the middle of it
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments().stream().filter(a -> !a.startsWith("-agentlib")).toList());
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), InterruptedCheckpointWrite.class.getName(), outDir.toString(), "4",
                String.valueOf(48L << 20)));
        Process child = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(dir.resolve("child.log").toFile()).start();
        Path ck = outDir.resolve("checkpoints/checkpoint-4");
        Path tmp = null;
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(2);
        while (tmp == null && child.isAlive() && System.nanoTime() < deadline) {
            if (Files.isDirectory(ck)) {
                try (var l = Files.list(ck)) {
                    tmp = l.filter(p -> p.getFileName().toString().endsWith(".tmp") && p.toFile().length() > (8 << 20)).findFirst().orElse(null);
                }
            }
            if (tmp == null) Thread.sleep(2);
        }
        child.destroyForcibly().waitFor();
        assertTrue(tmp != null && Files.exists(tmp), "the child was not caught writing; its log: " + Files.readString(dir.resolve("child.log")));
        assertFalse(Files.exists(ck.resolve(Checkpoints.STATE)));

        // a fresh run into this folder is refused, naming the run's checkpoint and both ways on
        BadInputException e = assertThrows(BadInputException.class,
                () -> TrainJob.run(spark, TrainJobTest.config(dir, out, "train.max_train_steps=1"), 0));
        assertTrue(e.getMessage().contains("run " + run + ": checkpoint-2") && e.getMessage().contains("--set model.resume_from_checkpoint=latest")
                && e.getMessage().contains("data.output_dir"), e.getMessage());

        // resuming removes the leftover and continues the run
        SparkTrainer.Result r = TrainJob.run(spark, TrainJobTest.config(dir, out, sizes[0], sizes[1], "model.resume_from_checkpoint=latest"), 0);
        assertEquals(4, r.step());
        assertEquals(run, Checkpoints.readState(ck.toString(), null).runId());
        try (var walk = Files.walk(outDir)) {
            List<Path> left = walk.filter(p -> p.getFileName().toString().endsWith(".tmp")).toList();
            assertTrue(left.isEmpty(), left.toString());
        }
        assertTrue(Files.size(ck.resolve(Checkpoints.MODEL)) < (8 << 20), "checkpoint-4 is the UNet's, not the killed write's");
    }
}
