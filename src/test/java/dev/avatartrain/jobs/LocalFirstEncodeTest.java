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
 * Local first, remote as fallback, per file: with a complete local tree and an S3 endpoint nobody listens on, encode
 * reads every local clip without asking the remote; only a clip missing locally fails, and the endpoint that could
 * not be reached is asked once, not once per file.
 */
class LocalFirstEncodeTest {
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
        SparkSession.Builder b = SparkSession.builder().master("local[1]").appName("LocalFirstEncodeTest")
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
