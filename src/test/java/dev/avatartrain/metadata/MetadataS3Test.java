package dev.avatartrain.metadata;

import dev.avatartrain.jobs.MakeMetadataJob;
import dev.avatartrain.storage.S3Proxy;
import dev.avatartrain.storage.Storage;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.FileNotFoundException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

/** The storage layer and the scan against a real S3 server (s3proxy on loopback). */
class MetadataS3Test {
    @TempDir
    static java.nio.file.Path tmp;
    static S3Proxy s3;
    static SparkSession spark;
    static Configuration conf;

    @BeforeAll
    static void start() throws Exception {
        s3 = new S3Proxy(tmp.resolve("s3"));
        s3.createBucket("bkt");
        SparkSession.Builder b = SparkSession.builder().master("local[2]").appName("MetadataS3Test")
                .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2");
        s3.s3aSettings().forEach((k, v) -> b.config("spark.hadoop." + k, v));
        spark = b.getOrCreate();
        conf = spark.sparkContext().hadoopConfiguration();
        // upload a tree through s3a: 3 clips x 5 frames, one frame without audio
        java.nio.file.Path local = FrameTrees.write(tmp.resolve("tree"), 3, 5);
        Files.delete(local.resolve("audio/clip-01/000004.npy"));
        Files.writeString(local.resolve("aligned-frames/clip-02/notes.txt"), "not a frame");
        FileSystem fs = FileSystem.newInstance(URI.create("s3a://bkt/"), conf);
        fs.copyFromLocalFile(false, true, new Path(local.toUri()), new Path("s3a://bkt/train/tree"));
        fs.close();
    }

    @AfterAll
    static void stop() throws Exception {
        if (spark != null) spark.stop();
        if (s3 != null) s3.close();
    }

    @Test
    void scanOverS3aListsEveryClipWithListRequestsOnly() throws Exception {
        String out = tmp.resolve("s3a-meta.npz").toString();
        Map<String, Object> summary = MakeMetadataJob.run(spark, new MakeMetadataJob.Options(MakeMetadataJob.Mode.scan,
                "s3a://bkt/train/tree/", out, null, false, false, "aligned-frames", "audio"));
        List<ClipMetadata> clips = MetadataFiles.read(out, spark, conf);
        assertEquals(List.of("clip-00", "clip-01", "clip-02"), clips.stream().map(ClipMetadata::folderName).toList());
        assertEquals(List.of("000000", "000001", "000002", "000003", "000004"), clips.get(0).imageNames());
        assertEquals(List.of("000004"), clips.get(1).imagesWithoutAudio());
        assertEquals(1, clips.get(2).ignoredFiles());
        @SuppressWarnings("unchecked") Map<String, Long> req = (Map<String, Long>) summary.get("storage_requests");
        assertTrue(req.getOrDefault("object_list_request", 0L) > 0, "listing requests counted: " + req);
        System.out.println("requests: " + req);
        assertEquals(0L, req.getOrDefault("object_get_request", 0L), "no GETs during a scan: " + req);
    }

    @Test
    void incrementalScanOverS3ListsOnlyTheNewClip() throws Exception {
        String out = tmp.resolve("incr-s3.parquet").toString();
        MakeMetadataJob.Options full = new MakeMetadataJob.Options(MakeMetadataJob.Mode.scan, "s3a://bkt/incr/", out,
                null, false, false, "aligned-frames", "audio");
        java.nio.file.Path local = FrameTrees.write(tmp.resolve("incr-tree"), 3, 2);
        try (FileSystem fs = FileSystem.newInstance(URI.create("s3a://bkt/"), conf)) {
            fs.copyFromLocalFile(false, true, new Path(local.toUri()), new Path("s3a://bkt/incr"));
            MakeMetadataJob.run(spark, full);
            FrameTrees.addClip(tmp.resolve("incr-new"), "clip-new", 2);
            fs.copyFromLocalFile(false, true, new Path(tmp.resolve("incr-new/aligned-frames/clip-new").toUri()), new Path("s3a://bkt/incr/aligned-frames/clip-new"));
            fs.copyFromLocalFile(false, true, new Path(tmp.resolve("incr-new/audio/clip-new").toUri()), new Path("s3a://bkt/incr/audio/clip-new"));
        }
        Map<String, Object> s = MakeMetadataJob.run(spark, new MakeMetadataJob.Options(MakeMetadataJob.Mode.scan,
                "s3a://bkt/incr/", out, out, false, false, "aligned-frames", "audio"));
        assertEquals(1, s.get("clips_listed"));
        assertEquals(3, s.get("clips_kept_from_previous"));
        assertEquals(Map.of("object_list_request", 4L), s.get("storage_requests")); // 2 top-level + 2 for the new clip
        assertEquals(4, MetadataFiles.read(out, spark, conf).size());
    }

    @Test
    void httpBaseUrlFormReadsThroughAnonymousS3a() throws Exception {
        String base = s3.endpoint() + "/bkt/train/tree/";
        String out = tmp.resolve("http-meta.json").toString();
        MakeMetadataJob.run(spark, new MakeMetadataJob.Options(MakeMetadataJob.Mode.scan, base + "aligned-frames", out,
                null, false, false, "aligned-frames", "audio"));
        assertEquals(3, MetadataFiles.read(out, spark, conf).size());
        try (Storage s = Storage.forUrl(base, new Configuration())) {
            assertArrayEquals(new byte[]{3}, s.readAll("aligned-frames/clip-00/000003.png"));
        }
    }

    @Test
    void localFirstThenS3WithCacheAndErrorNamingEveryPlace() throws Exception {
        java.nio.file.Path localBase = Files.createDirectories(tmp.resolve("local-first"));
        FrameTrees.addClip(localBase, "clip-00", 1);
        Files.write(localBase.resolve("aligned-frames/clip-00/000000.png"), new byte[]{42}); // local copy wins
        var data = new dev.avatartrain.config.DataConfig("s3a://bkt/train/tree/", localBase.toString(), "m.json", "out",
                "aligned-frames", "audio", 256);
        try (Storage s = Storage.fromConfig(data, conf).withLocalCache(true)) {
            assertArrayEquals(new byte[]{42}, s.readAll("aligned-frames/clip-00/000000.png"));
            assertArrayEquals(new byte[]{2}, s.readAll("aligned-frames/clip-01/000002.png"));
            assertTrue(Files.isRegularFile(localBase.resolve("aligned-frames/clip-01/000002.png")), "cached locally");
            assertEquals(List.of("clip-00", "clip-01", "clip-02"), s.list("aligned-frames"));
            FileNotFoundException e = assertThrows(FileNotFoundException.class, () -> s.open("aligned-frames/clip-09/x.png"));
            assertTrue(e.getMessage().contains(localBase.resolve("aligned-frames/clip-09/x.png").toString()), e.getMessage());
            assertTrue(e.getMessage().contains("s3a://bkt/train/tree/aligned-frames/clip-09/x.png"), e.getMessage());
        }
    }

    /**
     * A reader whose read of the pointer {@code _current} meets a replace gets a complete table, never an error: the
     * replace is forced into the reader's two race windows (a real writer, real s3proxy) instead of hoped for. Runs
     * {@code -Drace.iterations=N} times (default 1: the race is forced, not hoped for; 50 ran green).
     */
    @Test
    void readersNeverSeeAMissingOrPartialParquetWhileItIsReplaced() throws Exception {
        String url = "s3a://bkt/atomic/metadata.parquet";
        List<ClipMetadata> two = List.of(ClipMetadata.imagesOnly("a", List.of("0")), ClipMetadata.imagesOnly("b", List.of("0")));
        List<ClipMetadata> three = new java.util.ArrayList<>(two);
        three.add(ClipMetadata.imagesOnly("c", List.of("0", "1")));
        Configuration racing = new Configuration(conf);
        racing.set("fs.s3a.impl", RacingS3AFileSystem.class.getName());
        int iterations = Integer.getInteger("race.iterations", 1);
        try {
            for (int i = 0; i < iterations; i++) {
                // 1. the pointer is replaced after the reader's HEAD and before its GET: S3A reports the change
                MetadataFiles.write(two, url, spark, conf);
                int[] opens = {0};
                RacingS3AFileSystem.hook = (event, p) -> {
                    if (!p.getName().equals(ParquetVersions.POINTER) || !event.equals("open")) return;
                    if (opens[0]++ == 0) MetadataFiles.write(three, url, spark, conf);
                };
                assertEquals(3, MetadataFiles.read(url, spark, racing).size(), "the version named after the replace");
                assertEquals(2, opens[0], "the pointer read again after the change was reported");

                // 2. the pointer vanishes between the reader's check and its open, and reappears naming a new version
                int[] checks = {0};
                byte[][] saved = new byte[1][];
                RacingS3AFileSystem.hook = (event, p) -> {
                    if (!p.getName().equals(ParquetVersions.POINTER) || !event.equals("exists")) return;
                    try (FileSystem fs = FileSystem.newInstance(p.toUri(), conf)) {
                        if (checks[0]++ == 0) {
                            try (var in = fs.open(p)) {
                                saved[0] = in.readAllBytes();
                            }
                            assertTrue(fs.delete(p, false));
                        }
                    }
                    if (checks[0] == 2) { // the writer puts a pointer back, then replaces it with a new version
                        try (FileSystem fs = FileSystem.newInstance(p.toUri(), conf); var out = fs.create(p, true)) {
                            out.write(saved[0]);
                        }
                        MetadataFiles.write(two, url, spark, conf);
                    }
                };
                assertEquals(2, MetadataFiles.read(url, spark, racing).size(), "the version named after the replace");
                assertTrue(checks[0] >= 2 && saved[0] != null, "the pointer vanished and was read again");
                RacingS3AFileSystem.hook = null;
            }
        } finally {
            RacingS3AFileSystem.hook = null;
        }
        try (FileSystem fs = FileSystem.newInstance(URI.create("s3a://bkt/"), conf)) {
            long versions = java.util.Arrays.stream(fs.listStatus(new Path(url))).filter(st -> st.getPath().getName().startsWith("v-")).count();
            assertEquals(2, versions, "the current version and the one before are kept");
        }
    }

    /** A pointer that stays missing beside its versions, or a failure that is not a replace, is not waited for. */
    @Test
    void onlyAChangedOrVanishedPointerIsReadAgain() {
        assertTrue(ParquetVersions.changedOrVanished(new java.io.IOException("open failed",
                new FileNotFoundException("gone"))));
        assertTrue(ParquetVersions.changedOrVanished(new org.apache.hadoop.fs.s3a.RemoteFileChangedException(
                "s3a://b/_current", "open", "Change reported by S3 during open at position 0")));
        assertFalse(ParquetVersions.changedOrVanished(new java.io.IOException("Connection refused")));
    }

    /** Parquet written before pointers (part files directly in the folder) is read, and replaced by the new layout. */
    @Test
    void theOldParquetLayoutIsStillReadAndThenReplaced() throws Exception {
        String url = "s3a://bkt/old-layout/metadata.parquet";
        MetadataFiles.toDataFrame(spark, List.of(ClipMetadata.imagesOnly("old", List.of("0")))).coalesce(1).write().parquet(url);
        assertEquals("old", MetadataFiles.read(url, spark, conf).get(0).folderName());
        MetadataFiles.write(List.of(ClipMetadata.imagesOnly("new", List.of("0"))), url, spark, conf);
        assertEquals("new", MetadataFiles.read(url, spark, conf).get(0).folderName());
        MetadataFiles.write(List.of(ClipMetadata.imagesOnly("newer", List.of("0"))), url, spark, conf);
        assertEquals("newer", MetadataFiles.read(url, spark, conf).get(0).folderName());
        try (FileSystem fs = FileSystem.newInstance(URI.create("s3a://bkt/"), conf)) {
            for (var st : fs.listStatus(new Path(url))) {
                String n = st.getPath().getName();
                assertTrue(n.startsWith("v-") || n.equals(ParquetVersions.POINTER), "old part files removed by the second write: " + n);
            }
        }
    }

    @Test
    void readResumesWhenTheServerIsStoppedAndRestartedMidRead() throws Exception {
        byte[] big = new byte[8 << 20];
        new Random(1).nextBytes(big);
        try (FileSystem fs = FileSystem.newInstance(URI.create("s3a://bkt/"), conf);
             var out = fs.create(new Path("s3a://bkt/blobs/big.bin"))) {
            out.write(big);
        }
        // S3A's own retry policy (no second layer): generous enough here to outlast a restart of the server
        Configuration patient = new Configuration(conf);
        patient.set("fs.s3a.retry.limit", "10");
        patient.set("fs.s3a.retry.interval", "500ms");
        try (Storage s = Storage.forUrl("s3a://bkt/blobs/", patient);
             InputStream in = s.open("big.bin")) {
            byte[] got = new byte[big.length];
            int n = in.readNBytes(got, 0, 1 << 20);
            s3.stop();
            Thread restarter = new Thread(() -> {
                try {
                    Thread.sleep(1500);
                    s3.start();
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
            });
            restarter.start();
            try {
                n += in.readNBytes(got, n, got.length - n);
            } finally {
                restarter.join(); // never leave a server started after the class has stopped it
            }
            assertEquals(big.length, n);
            assertArrayEquals(big, got);
        }
    }
}
