package dev.avatartrain.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.avatartrain.train.spark.SparkTrainer;
import dev.avatartrain.config.AppConfig;
import dev.avatartrain.jobs.DemoJob;
import dev.avatartrain.jobs.EncodeJob;
import dev.avatartrain.jobs.MakeMetadataJob;
import dev.avatartrain.jobs.SynthJob;
import dev.avatartrain.jobs.TrainJob;
import dev.avatartrain.metadata.MetadataFiles;
import dev.avatartrain.metadata.ParquetVersions;
import dev.avatartrain.synth.SyntheticClips;

/**
 * The pipeline with every location on a real HDFS (MiniDFSCluster in this JVM): make-metadata scans the frame tree
 * there and writes Parquet metadata there, encode reads frames from it and writes the latent cache there, train
 * writes checkpoints there and resumes from them. Also: the latent cache notices a repaired frame (local disk).
 */
class HdfsPipelineTest {
    @TempDir
    static Path tmp;
    static MiniDFSCluster hdfs;
    static String root;
    static SparkSession spark;

    @BeforeAll
    static void start() throws Exception {
        // the namenode and datanode log every block at INFO
        org.apache.logging.log4j.core.config.Configurator.setLevel("org.apache.hadoop", org.apache.logging.log4j.Level.WARN);
        Configuration c = new Configuration();
        c.set("dfs.replication", "1");
        hdfs = new MiniDFSCluster.Builder(c, tmp.resolve("hdfs").toFile()).numDataNodes(1).build();
        hdfs.waitActive();
        root = "hdfs://localhost:" + hdfs.getNameNodePort();
        spark = SparkSession.builder().master("local[2]").appName("HdfsPipelineTest").config("spark.ui.enabled", "false")
                .config("spark.hadoop.dfs.replication", "1").getOrCreate();
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
        if (hdfs != null) hdfs.shutdown();
    }

    static AppConfig config(String data, String metadata, String out, String... more) {
        List<String> o = new ArrayList<>(List.of("data.local_data_base_url=", "data.s3_data_base_url=" + data,
                "data.metadata_url=" + metadata, "data.output_dir=" + out, "data.IMAGE_SIZE=32",
                "train.max_train_steps=4", "train.validation_steps=2", "train.checkpointing_steps=2",
                "train.checkpoints_total_limit=2", "train.num_workers=2", "train.train_batch_size=2",
                "train.validation_fraction=0.25"));
        o.addAll(List.of(more));
        return AppConfig.load(DemoJob.demoConfigDir(), o);
    }

    /** On HDFS the lock is a create-if-absent file: a live holder refuses, a holder whose heartbeat stopped is replaced. */
    @Test
    void runLockOnHdfsRefusesALiveHolderAndTakesOverADeadOne() throws Exception {
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        try (dev.avatartrain.storage.Storage a = dev.avatartrain.storage.Storage.forUrl(root + "/locked", conf);
             dev.avatartrain.storage.Storage b = dev.avatartrain.storage.Storage.forUrl(root + "/locked", conf)) {
            RunLock first = RunLock.acquire(a, "train");
            dev.avatartrain.errors.BadInputException e = org.junit.jupiter.api.Assertions.assertThrows(
                    dev.avatartrain.errors.BadInputException.class, () -> RunLock.acquire(b, "train"));
            assertTrue(e.getMessage().contains("in use by a running 'train' (process " + ProcessHandle.current().pid()), e.getMessage());
            // with a zero staleness bound the first holder counts as dead: its lock is taken over
            try (RunLock second = RunLock.acquire(b, "train-adapter", java.time.Duration.ZERO)) {
                first.close(); // the dead holder coming back does not remove the new holder's lock
                String held = new String(b.readAll(RunLock.FILE), java.nio.charset.StandardCharsets.UTF_8);
                assertTrue(held.contains("train-adapter"), held);
            }
            assertFalse(b.exists(RunLock.FILE), "released at the end");
        }
    }

    @Test
    void scanEncodeTrainAndResumeWithEverythingOnHdfs() throws Exception {
        Path local = tmp.resolve("tree");
        SynthJob.run(local, new SyntheticClips.Spec(3, 6, 32, 2, 32, 3, "aligned-frames", "audio"));
        Configuration conf = spark.sparkContext().hadoopConfiguration();
        try (FileSystem fs = FileSystem.newInstance(java.net.URI.create(root), conf)) {
            fs.copyFromLocalFile(false, true, new org.apache.hadoop.fs.Path(local.toUri()), new org.apache.hadoop.fs.Path(root + "/data"));
        }
        String data = root + "/data/";
        String metadata = root + "/meta/metadata.parquet";

        Map<String, Object> summary = MakeMetadataJob.run(spark, new MakeMetadataJob.Options(MakeMetadataJob.Mode.scan, data,
                metadata, null, false, false, "aligned-frames", "audio"));
        assertEquals(3, summary.get("clips"));
        assertEquals(18L, summary.get("frames"));
        // the versioned layout: a pointer naming one version folder
        try (FileSystem fs = FileSystem.newInstance(java.net.URI.create(root), conf)) {
            assertTrue(fs.exists(new org.apache.hadoop.fs.Path(metadata + "/" + ParquetVersions.POINTER)));
        }
        // incremental: nothing changed, every clip kept; readers get the new version
        Map<String, Object> again = MakeMetadataJob.run(spark, new MakeMetadataJob.Options(MakeMetadataJob.Mode.scan, data,
                metadata, metadata, false, false, "aligned-frames", "audio"));
        assertEquals(3, again.get("clips_kept_from_previous"));
        assertEquals(3, MetadataFiles.read(metadata, spark, conf).size());

        String out = root + "/out";
        AppConfig c = config(data, metadata, out);
        EncodeJob.Summary e = EncodeJob.run(spark, c);
        assertEquals(3, e.encoded());
        assertEquals(18, e.frames());
        assertEquals(3, EncodeJob.run(spark, c).cached());

        assertEquals(2, TrainJob.run(spark, c, 2).step());
        SparkTrainer.Result resumed = TrainJob.run(spark, config(data, metadata, out, "model.resume_from_checkpoint=latest"), 0);
        assertEquals(4, resumed.step());
        try (FileSystem fs = FileSystem.newInstance(java.net.URI.create(root), conf)) {
            for (String f : List.of("checkpoints/checkpoint-2/" + Checkpoints.STATE, "checkpoints/checkpoint-4/" + Checkpoints.STATE,
                    "checkpoints/checkpoint-4/" + Checkpoints.MODEL, "metrics.jsonl")) {
                assertTrue(fs.getFileStatus(new org.apache.hadoop.fs.Path(out + "/" + f)).getLen() > 0, f);
            }
            // atomic writes leave no temporary files behind
            var it = fs.listFiles(new org.apache.hadoop.fs.Path(out), true);
            while (it.hasNext()) {
                String name = it.next().getPath().getName();
                assertFalse(name.endsWith(".tmp"), name);
            }
        }
        assertTrue(resumed.lastCheckpoint().startsWith(out), resumed.lastCheckpoint());
    }

    /** A corrupt frame is skipped; once replaced by a good file, encode re-encodes that clip and only that one. */
    @Test
    void aRepairedFrameIsEncodedAgainAndOnlyItsClip(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data");
        SynthJob.run(data, new SyntheticClips.Spec(3, 4, 32, 2, 32, 4, "aligned-frames", "audio"));
        Path bad = data.resolve("aligned-frames/HDTF-0001/000002.png");
        Path good = dir.resolve("good.png");
        Files.copy(bad, good);
        Files.write(bad, new byte[]{'n', 'o', 't', ' ', 'p', 'n', 'g'});
        String meta = dir.resolve("metadata.json").toString();
        MakeMetadataJob.run(spark, new MakeMetadataJob.Options(MakeMetadataJob.Mode.scan, data.toString(), meta, null, false,
                false, "aligned-frames", "audio"));
        AppConfig c = config(data.toString(), meta, dir.resolve("out").toString());
        EncodeJob.Summary first = EncodeJob.run(spark, c);
        assertEquals(3, first.encoded());
        assertEquals(List.of("aligned-frames/HDTF-0001/000002.png"), first.skipped().stream().map(s -> s.path()).toList());

        Files.copy(good, bad, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        EncodeJob.Summary repaired = EncodeJob.run(spark, c);
        assertEquals(1, repaired.encoded(), "only the clip whose frame changed");
        assertEquals(2, repaired.cached());
        assertEquals(List.of(), repaired.skipped());
        assertEquals(12, repaired.frames());
    }
}
