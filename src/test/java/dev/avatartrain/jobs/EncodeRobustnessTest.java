package dev.avatartrain.jobs;

import dev.avatartrain.config.AppConfig;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.synth.SyntheticClips;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Encode on hostile inputs. Local first, remote as fallback, per file: with a complete local tree and an S3 endpoint nobody listens on, encode
 * reads every local clip without asking the remote; only a clip missing locally fails, and the endpoint that could
 * not be reached is asked once, not once per file. NaN or infinite audio features skip their frame (listed);
 * int32 and float64 features are converted.
 */
class EncodeRobustnessTest {
    @TempDir
    static Path dir;
    static SparkSession spark;
    static String deadEndpoint;

    static final Map<String, String> S3A = Map.of("fs.s3a.path.style.access", "true",
            "fs.s3a.connection.ssl.enabled", "false", "fs.s3a.access.key", "test", "fs.s3a.secret.key", "test",
            "fs.s3a.endpoint.region", "us-east-1", "fs.s3a.retry.limit", "1", "fs.s3a.retry.interval", "50ms");

    @BeforeAll
    static void start() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            deadEndpoint = "http://127.0.0.1:" + s.getLocalPort(); // closed again: connections are refused
        }
        SparkSession.Builder b = SparkSession.builder().master("local[1]").appName("EncodeRobustnessTest")
                .config("spark.ui.enabled", "false").config("spark.hadoop.fs.s3a.endpoint", deadEndpoint);
        S3A.forEach((k, v) -> b.config("spark.hadoop." + k, v));
        spark = b.getOrCreate();
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
    }

    @Test
    void aCompleteLocalTreeIsEncodedWithTheRemoteDownAndOnlyTheMissingClipFails() throws Exception {
        Path data = dir.resolve("data");
        SynthJob.run(data, new SyntheticClips.Spec(3, 4, 32, 2, 32, 5, "aligned-frames", "audio"));
        MakeMetadataJob.run(spark, new MakeMetadataJob.Options(MakeMetadataJob.Mode.scan, data.toString(),
                dir.resolve("metadata.json").toString(), null, false, false, "aligned-frames", "audio"));
        String missing = "HDTF-0002"; // listed in the metadata, gone from local disk: only the remote could have it
        for (String f : List.of("aligned-frames/", "audio/")) {
            try (var walk = java.nio.file.Files.walk(data.resolve(f + missing))) {
                for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) java.nio.file.Files.delete(p);
            }
        }
        AppConfig config = AppConfig.load(DemoJob.demoConfigDir(), List.of("data.local_data_base_url=" + data,
                "data.s3_data_base_url=s3a://bkt/tree/", "data.metadata_url=" + dir.resolve("metadata.json"),
                "data.output_dir=" + dir.resolve("out"), "data.IMAGE_SIZE=32", "train.num_workers=1",
                "model.vae_pretrained_model_name_or_path=random"));
        EncodeJob.Summary s = EncodeJob.run(spark, config);
        assertEquals(2, s.encoded(), "the clips on local disk, read without the remote");
        assertEquals(1, s.failed(), "only the clip that needed the remote");
    }

    @Test
    void nonFiniteAudioFeaturesSkipTheirFrameAndOtherNumericTypesAreConverted() throws Exception {
        Path data = dir.resolve("nan-data");
        SynthJob.run(data, new SyntheticClips.Spec(2, 4, 32, 2, 32, 5, "aligned-frames", "audio"));
        Path nan = data.resolve("audio/HDTF-0001/000001.npy"), inf = data.resolve("audio/HDTF-0001/000002.npy");
        Path i32 = data.resolve("audio/HDTF-0002/000001.npy"), f64 = data.resolve("audio/HDTF-0002/000002.npy");
        org.nd4j.linalg.api.ndarray.INDArray a = dev.avatartrain.tensors.Npy.read(java.nio.file.Files.newInputStream(nan),
                nan.toString()).toINDArray(org.nd4j.linalg.api.buffer.DataType.FLOAT);
        dev.avatartrain.tensors.Npy.write(nan, a.dup().putScalar(0, Float.NaN));
        dev.avatartrain.tensors.Npy.write(inf, a.dup().putScalar(1, Float.POSITIVE_INFINITY));
        dev.avatartrain.tensors.Npy.write(i32, a.castTo(org.nd4j.linalg.api.buffer.DataType.INT));
        dev.avatartrain.tensors.Npy.write(f64, a.castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE));
        MakeMetadataJob.run(spark, new MakeMetadataJob.Options(MakeMetadataJob.Mode.scan, data.toString(),
                dir.resolve("nan-metadata.json").toString(), null, false, false, "aligned-frames", "audio"));
        AppConfig config = AppConfig.load(DemoJob.demoConfigDir(), List.of("data.local_data_base_url=" + data,
                "data.s3_data_base_url=", "data.metadata_url=" + dir.resolve("nan-metadata.json"),
                "data.output_dir=" + dir.resolve("nan-out"), "data.IMAGE_SIZE=32", "train.num_workers=1",
                "model.vae_pretrained_model_name_or_path=random"));
        EncodeJob.Summary s = EncodeJob.run(spark, config);
        assertEquals(2, s.encoded());
        assertEquals(6, s.frames(), "8 frames less the NaN and the infinite one; int32 and float64 converted");
        List<String> reasons = s.skipped().stream().map(k -> k.path() + ": " + k.reason()).toList();
        assertEquals(2, reasons.size(), reasons.toString());
        assertTrue(reasons.contains("audio/HDTF-0001/000001.npy: audio/HDTF-0001/000001.npy: audio features hold NaN or"
                + " infinite values; frame skipped."), reasons.toString());
        assertTrue(reasons.stream().anyMatch(r -> r.startsWith("audio/HDTF-0001/000002.npy")), reasons.toString());
    }

    @Test
    void anUnreachableEndpointIsNamedAndNotAskedAgainForEachFile() throws Exception {
        Configuration c = new Configuration();
        c.set("fs.s3a.endpoint", deadEndpoint);
        S3A.forEach(c::set);
        try (Storage s = Storage.forUrl("s3a://bkt/tree/", c)) {
            IOException first = assertThrows(IOException.class, () -> s.readAll("a/000000.png"));
            assertTrue(first.getMessage().startsWith("cannot reach [endpoint " + deadEndpoint), first.getMessage());
            assertNotNull(first.getCause(), "the first failure carries the connector's error");
            IOException second = assertThrows(IOException.class, () -> s.readAll("b/000001.png"));
            assertEquals(first.getMessage(), second.getMessage(), "the same words: a report names the endpoint once");
            assertNull(second.getCause(), "failed without connecting again");
        }
    }
}
