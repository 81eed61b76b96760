package dev.avatartrain.config;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.storage.S3Proxy;
import dev.avatartrain.train.adapter.AdapterOptions;

/** Configuration files as a cluster driver sees them: bundled in the jar, on S3 (s3proxy on loopback), or missing. */
class ConfigFilesTest {
    @TempDir
    Path dir;

    @Test
    void configDirBundledInTheJarAndItsUnetConfigAreFoundOnTheClasspath() {
        assertFalse(Files.exists(Path.of("configuration/bundled-only")), "the test folder must exist on the classpath only");
        AppConfig c = AppConfig.loadFrom("configuration/bundled-only", List.of());
        assertEquals(128, c.data().imageSize());
        assertEquals("configuration/bundled-only/unet.json", c.model().unetConfigFile());
        ConfigFiles.Text unet = ConfigFiles.read(c.model().unetConfigFile(), "model.yaml: unet_config_file");
        assertEquals("classpath:configuration/bundled-only/unet.json", unet.source());
        assertTrue(unet.text().contains("block_out_channels"));
        Path copy = ConfigFiles.localFile(c.model().unetConfigFile(), "unet");
        assertTrue(Files.isRegularFile(copy));
    }

    @Test
    void missingFilesListEveryPlaceTried() {
        BadInputException e = assertThrows(BadInputException.class,
                () -> ConfigFiles.read("configuration/unet/nope.json", "model.yaml: unet_config_file"));
        assertTrue(e.getMessage().startsWith("model.yaml: unet_config_file: configuration/unet/nope.json not found; tried "), e.getMessage());
        assertTrue(e.getMessage().contains(Path.of("configuration/unet/nope.json").toAbsolutePath().toString()), e.getMessage());
        assertTrue(e.getMessage().contains("classpath:configuration/unet/nope.json (bundled in the jar)"), e.getMessage());

        BadInputException dirError = assertThrows(BadInputException.class, () -> AppConfig.loadFrom(dir.toString(), List.of()));
        assertTrue(dirError.getMessage().contains("data.yaml: configuration file is missing")
                && dirError.getMessage().contains(dir.resolve("data.yaml").toString()), dirError.getMessage());
    }

    @Test
    void configDirUnetConfigAndAdapterConfigOnS3() throws Exception {
        try (S3Proxy s3 = new S3Proxy(dir.resolve("s3"))) {
            Path bucket = s3.createBucket("conf-bkt");
            Files.createDirectories(bucket.resolve("run1"));
            Files.writeString(bucket.resolve("run1/data.yaml"), "IMAGE_SIZE: 64\n");
            for (String f : List.of("train.yaml", "optimizer.yaml")) Files.writeString(bucket.resolve("run1/" + f), "{}\n");
            Files.writeString(bucket.resolve("run1/model.yaml"), "unet_config_file: \"s3a://conf-bkt/run1/unet.json\"\n");
            Files.copy(Path.of("configuration/unet/tiny.json"), bucket.resolve("run1/unet.json"));
            Files.writeString(bucket.resolve("run1/adapter.yaml"), "manifest: \"s3a://conf-bkt/run1/manifest.json\"\nseed: 11\n");
            s3.s3aSettings().forEach((k, v) -> System.setProperty("spark.hadoop." + k, v)); // as spark-submit passes them
            try {
                AppConfig c = AppConfig.loadFrom("s3a://conf-bkt/run1/", List.of());
                assertEquals(64, c.data().imageSize());
                ConfigFiles.Text unet = ConfigFiles.read(c.model().unetConfigFile(), "model.yaml: unet_config_file");
                assertEquals(Files.readString(Path.of("configuration/unet/tiny.json")), unet.text());
                AdapterOptions o = AdapterOptions.loadFrom("s3a://conf-bkt/run1/adapter.yaml", List.of(), Map.of());
                assertEquals(11, o.seed());
                BadInputException e = assertThrows(BadInputException.class, () -> ConfigFiles.read("s3a://conf-bkt/run1/nope.json", "x"));
                assertTrue(e.getMessage().contains("s3a://conf-bkt/run1/nope.json not found"), e.getMessage());
            } finally {
                s3.s3aSettings().keySet().forEach(k -> System.clearProperty("spark.hadoop." + k));
            }
        }
    }
}
