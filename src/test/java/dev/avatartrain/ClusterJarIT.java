package dev.avatartrain;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import com.sun.net.httpserver.HttpServer;

import dev.avatartrain.models.taesd.Taesd;
import dev.avatartrain.tensors.Safetensors;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The spark-submit jar holds our code and dependencies, leaves Spark, Hadoop and Scala to the cluster, leaves out the
 * libraries nothing here loads, and runs the product on Spark's classpath alone.
 */
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
            // libraries that came with DL4J M2.1 and that nothing here loads (pom: nd4j-api's exclusions; the
            // product's run of this jar below proves it needs none of them)
            for (String unused : List.of("com/google/gson/", "org/apache/commons/net/", "dev/avatartrain/shaded/commons/net/", "oshi/",
                    "org/threeten/bp/", "com/sun/jna/platform/", "it/unimi/dsi/fastutil/", "org/deeplearning4j/nn/")) {
                assertTrue(names.stream().noneMatch(n -> n.startsWith(unused)), "jar must not contain " + unused);
            }
            assertTrue(names.contains("dev/avatartrain/hub/HubLock.class") && names.stream().anyMatch(n -> n.startsWith("com/sun/jna/linux-x86-64/")),
                    "JNA, with its native part, for the hub's download locks");
            assertTrue(names.contains("avatar-train/wandb_sidecar.py"), "the W&B sidecar ships in the jar");
            assertEquals("dev.avatartrain.cli.Main", jf.getManifest().getMainAttributes().getValue("Main-Class"));
        }
    }

    /**
     * The jar on Spark's own classpath (as spark-submit gives it, without the test classpath) runs the product: TAESD
     * weights named by a bare repo id are downloaded from a loopback hub (JNA's flock for the hub's lock, from the jar)
     * and ND4J encodes with them, with none of the libraries left out above.
     */
    @Test
    void theJarAloneDownloadsWeightsAndRunsAModel(@TempDir Path dir) throws Exception {
        Path jar = Path.of(System.getProperty("avatartrain.cluster.jar"));
        String sparkCp = Files.readString(Path.of(System.getProperty("avatartrain.spark.classpath"))).trim();
        Path project = Path.of(System.getProperty("avatartrain.project.dir", "."));
        List<String> flags = List.of(Files.readString(project.resolve("target/classes/avatar-train/jvm-options.txt")).trim().split("\\s+"));

        Taesd.Model enc = Taesd.encoder(new Taesd.Config(4, false), DataType.FLOAT, 3);
        Path weights = dir.resolve("w.safetensors");
        Safetensors.write(weights, Taesd.toDiffusers(new LinkedHashMap<>(enc.parameters()), true), Map.of());
        byte[] body = Files.readAllBytes(weights);
        String sha256 = HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(body));
        Path in = dir.resolve("in.safetensors");
        INDArray images = Nd4j.rand(DataType.FLOAT, 1, 3, 16, 16);
        Safetensors.write(in, Map.of("images", images), Map.of());

        HttpServer hub = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        hub.createContext("/owner/taesd/resolve/main/diffusion_pytorch_model.safetensors", ex -> {
            try (ex) {
                boolean head = ex.getRequestMethod().equals("HEAD");
                ex.getResponseHeaders().add("ETag", "\"" + sha256 + "\"");
                if (head) ex.getResponseHeaders().add("Content-Length", Integer.toString(body.length));
                ex.sendResponseHeaders(200, head ? -1 : body.length);
                if (!head) ex.getResponseBody().write(body);
            }
        });
        hub.createContext("/", ex -> {
            try (ex) {
                ex.sendResponseHeaders(404, -1);
            }
        });
        hub.start();
        try {
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx2g"));
            cmd.addAll(flags);
            cmd.addAll(List.of("-cp", jar + java.io.File.pathSeparator + sparkCp, "dev.avatartrain.cli.Main", "forward", "--model",
                    "taesd-encoder", "--weights", "owner/taesd", "--input", in.toString(), "--output", dir.resolve("out.safetensors").toString()));
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
            pb.environment().put("HF_ENDPOINT", "http://127.0.0.1:" + hub.getAddress().getPort());
            pb.environment().put("HF_HOME", dir.resolve("hf").toString());
            Process p = pb.start();
            String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.waitFor(), log);
            assertTrue(log.lines().noneMatch(l -> l.contains("flock") || l.contains("NoClassDefFound")), log);
            assertTrue(Files.isRegularFile(dir.resolve("hf/hub/.locks/models--owner--taesd/" + sha256 + ".lock")),
                    "the download took huggingface_hub's lock");
            assertTrue(Files.isRegularFile(dir.resolve("hf/hub/models--owner--taesd/blobs/" + sha256)));
            INDArray got = Safetensors.read(dir.resolve("out.safetensors")).tensors().get("out");
            assertTrue(enc.encode(images).equalsWithEps(got, 1e-4), "the jar's encoder gives the test classpath's result");
        } finally {
            hub.stop(0);
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
