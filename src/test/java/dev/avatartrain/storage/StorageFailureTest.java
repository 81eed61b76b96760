package dev.avatartrain.storage;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.jobs.MakeMetadataJob;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * An unreachable S3 endpoint (a closed port on loopback) fails make-metadata with a message naming the URL, the
 * endpoint and the settings that bound the wait, with this project's defaults for time-outs and retries (none of
 * the fast-fail test settings of {@link S3Proxy}). The 60 s bound is the behaviour under test, not a speed measure:
 * Hadoop's own defaults keep such a job busy for many minutes.
 */
class StorageFailureTest {
    @TempDir
    static Path tmp;
    static SparkSession spark;
    static int closedPort;

    @BeforeAll
    static void start() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = s.getLocalPort(); // closed again before use: connections are refused
        }
        spark = SparkSession.builder().master("local[2]").appName("StorageFailureTest").config("spark.ui.enabled", "false")
                .config("spark.hadoop.fs.s3a.endpoint", "http://127.0.0.1:" + closedPort)
                .config("spark.hadoop.fs.s3a.path.style.access", "true")
                .config("spark.hadoop.fs.s3a.connection.ssl.enabled", "false")
                .config("spark.hadoop.fs.s3a.access.key", "test").config("spark.hadoop.fs.s3a.secret.key", "test")
                .config("spark.hadoop.fs.s3a.endpoint.region", "us-east-1").getOrCreate();
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
    }

    static BadInputException scan(String input) {
        return assertThrows(BadInputException.class, () -> MakeMetadataJob.run(spark, new MakeMetadataJob.Options(
                MakeMetadataJob.Mode.scan, input, tmp.resolve("m.json").toString(), null, false, false, "aligned-frames", "audio")));
    }

    @Test
    @Timeout(60)
    void s3aOnAClosedEndpointFailsNamingUrlEndpointAndSettings() {
        String m = scan("s3a://bucket/x").getMessage();
        assertTrue(m.contains("s3a://bucket/x/aligned-frames"), m);
        assertTrue(m.contains("endpoint http://127.0.0.1:" + closedPort + " from fs.s3a.endpoint"), m);
        for (String k : Storage.DEFAULTS.keySet()) assertTrue(m.contains(k + "="), k + " in: " + m);
    }

    @Test
    @Timeout(60)
    void anHttpBaseUrlOnAClosedPortFailsTheSameWay() {
        String m = scan("http://127.0.0.1:" + closedPort + "/bucket/x").getMessage();
        assertTrue(m.contains("s3a://bucket/x/aligned-frames"), m);
        assertTrue(m.contains("endpoint http://127.0.0.1:" + closedPort + " from fs.s3a.bucket.bucket.endpoint"), m);
        assertTrue(m.contains("fs.s3a.connection.establish.timeout=5000"), m);
    }
}
