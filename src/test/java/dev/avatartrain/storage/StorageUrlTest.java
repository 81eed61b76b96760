package dev.avatartrain.storage;

import dev.avatartrain.errors.BadInputException;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class StorageUrlTest {
    @Test
    void publicBucketHttpsUrlBecomesAnonymousS3aWithItsRegion() {
        StorageUrl u = StorageUrl.parse("https://digital-human-llm.s3.ap-southeast-2.amazonaws.com/dev/train-data/", "k");
        assertEquals("s3a://digital-human-llm/dev/train-data/", u.hadoopUri());
        assertEquals(StorageUrl.ANONYMOUS, u.bucketSettings().get("fs.s3a.bucket.digital-human-llm.aws.credentials.provider"));
        assertEquals("ap-southeast-2", u.bucketSettings().get("fs.s3a.bucket.digital-human-llm.endpoint.region"));
        assertEquals("s3.ap-southeast-2.amazonaws.com", u.bucketSettings().get("fs.s3a.bucket.digital-human-llm.endpoint"));
        assertEquals("s3a://digital-human-llm/dev/train-data/audio/x.npy", u.child("audio/x.npy"));
    }

    @Test
    void pathStyleAndOtherForms() {
        StorageUrl p = StorageUrl.parse("https://s3.eu-west-1.amazonaws.com/bkt/a", "k");
        assertEquals("s3a://bkt/a", p.hadoopUri());
        assertEquals("true", p.bucketSettings().get("fs.s3a.bucket.bkt.path.style.access"));
        StorageUrl h = StorageUrl.parse("http://127.0.0.1:9000/bkt/", "k");
        assertEquals("http://127.0.0.1:9000", h.bucketSettings().get("fs.s3a.bucket.bkt.endpoint"));
        assertEquals("false", h.bucketSettings().get("fs.s3a.bucket.bkt.connection.ssl.enabled"));
        assertEquals("s3a://b/x", StorageUrl.parse("s3://b/x", "k").hadoopUri());
        StorageUrl l = StorageUrl.parse("data/train", "k");
        assertTrue(l.isLocal());
        assertEquals(Path.of("data/train").toAbsolutePath().normalize(), l.localPath());
        assertEquals(Path.of("/tmp/x"), StorageUrl.parse("file:///tmp/x", "k").localPath());
    }

    @Test
    void everyHadoopSchemeIsPassedThrough() {
        assertEquals("gs://b/x", StorageUrl.parse("gs://b/x", "k").hadoopUri());
        assertEquals("hdfs://nn:8020/data/", StorageUrl.parse("hdfs://nn:8020/data/", "k").hadoopUri());
        assertEquals("hdfs:///data", StorageUrl.parse("hdfs:///data", "k").hadoopUri()); // the cluster's fs.defaultFS
        assertEquals("abfss://c@acct.dfs.core.windows.net/d", StorageUrl.parse("abfss://c@acct.dfs.core.windows.net/d", "k").hadoopUri());
        assertEquals("viewfs://cluster/d/", StorageUrl.parse("viewfs://cluster/d", "k").child("") + "/");
        assertEquals("hdfs", StorageUrl.parse("hdfs://nn/x", "k").scheme());
        assertFalse(StorageUrl.parse("wasbs://c@a.blob.core.windows.net/x", "k").isLocal());
    }

    /** Without its connector on the classpath a scheme fails when first used, naming the URL and what to add. */
    @Test
    void aSchemeWithoutConnectorNamesTheUrlAndTheConnector() {
        BadInputException gs = assertThrows(BadInputException.class, () -> {
            try (Storage s = Storage.forUrl("gs://bucket/frames/", null)) {
                s.list("aligned-frames");
            }
        });
        assertTrue(gs.getMessage().contains("gs://bucket/frames/aligned-frames"), gs.getMessage());
        assertTrue(gs.getMessage().contains("gcs-connector") && gs.getMessage().contains("Dataproc"), gs.getMessage());
        BadInputException abfs = assertThrows(BadInputException.class, () -> {
            try (Storage s = Storage.forUrl("abfs://c@acct.dfs.core.windows.net/d", null)) {
                s.exists("x");
            }
        });
        assertTrue(abfs.getMessage().contains("abfs://c@acct.dfs.core.windows.net/d/x") && abfs.getMessage().contains("hadoop-azure"),
                abfs.getMessage());
    }

    @Test
    void badUrlsNameTheKey() {
        assertTrue(assertThrows(BadInputException.class, () -> StorageUrl.parse("", "data.s3_data_base_url"))
                .getMessage().contains("data.s3_data_base_url"));
        assertTrue(assertThrows(BadInputException.class, () -> StorageUrl.parse("https://example.com/", "k"))
                .getMessage().contains("bucket name"));
    }
}
