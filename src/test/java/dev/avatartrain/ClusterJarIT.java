package dev.avatartrain;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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

    /**
     * Relocation rewrites references to a package whether or not the package is in the jar: a reference to a relocated
     * class the jar does not hold (a Commons library Spark provides, say) fails only on a cluster, at run time.
     */
    @Test
    void everyRelocatedClassReferenceIsInTheJar() throws IOException {
        Path jar = Path.of(System.getProperty("avatartrain.cluster.jar"));
        Pattern ref = Pattern.compile("dev/avatartrain/shaded/[A-Za-z0-9_/$-]+");
        try (JarFile jf = new JarFile(jar.toFile())) {
            Set<String> names = new HashSet<>(jf.stream().map(ZipEntry::getName).toList());
            Set<String> missing = new TreeSet<>();
            for (JarEntry e : jf.stream().filter(e -> e.getName().endsWith(".class")).toList()) {
                String bytes = new String(jf.getInputStream(e).readAllBytes(), StandardCharsets.ISO_8859_1);
                Matcher m = ref.matcher(bytes);
                while (m.find()) {
                    if (!names.contains(m.group() + ".class")) missing.add(m.group() + " (from " + e.getName() + ")");
                }
            }
            assertTrue(missing.isEmpty(), "relocated references to classes not in the jar: " + missing);
        }
    }
}
