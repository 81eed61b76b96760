package dev.avatartrain;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.jar.JarFile;
import java.util.zip.ZipEntry;

import static org.junit.jupiter.api.Assertions.*;

/** The spark-submit jar holds our code and dependencies, and leaves Spark, Hadoop and Scala to the cluster. */
class ClusterJarIT {
    @Test
    void clusterJarHoldsOurClassesButNotSparksHadoopsOrScalas() throws IOException {
        Path jar = Path.of(System.getProperty("avatartrain.cluster.jar"));
        assertTrue(Files.isRegularFile(jar), "built by mvn package: " + jar);
        try (JarFile jf = new JarFile(jar.toFile())) {
            List<String> names = jf.stream().map(ZipEntry::getName).toList();
            assertTrue(names.contains("dev/avatartrain/cli/Main.class"));
            assertTrue(names.contains("configuration/global/train.yaml"), "seed configuration bundled");
            assertTrue(names.stream().anyMatch(n -> n.startsWith("org/nd4j/")), "ND4J shaded in");
            assertTrue(names.stream().anyMatch(n -> n.startsWith("dev/avatartrain/shaded/snakeyaml/")), "SnakeYAML relocated");
            for (String provided : List.of("org/apache/spark/", "scala/", "org/apache/hadoop/", "com/amazonaws/", "org/yaml/snakeyaml/")) {
                assertTrue(names.stream().noneMatch(n -> n.startsWith(provided)), "jar must not contain " + provided);
            }
            assertEquals("dev.avatartrain.cli.Main", jf.getManifest().getMainAttributes().getValue("Main-Class"));
        }
    }
}
