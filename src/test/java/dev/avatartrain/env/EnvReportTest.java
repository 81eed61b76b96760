package dev.avatartrain.env;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.avatartrain.cli.Main;
import dev.avatartrain.gpu.GpuInfo;
import dev.avatartrain.gpu.GpuReport;
import dev.avatartrain.gpu.StandInNvidiaSmi;

/** {@code avatar-train env} and {@code --version}: each field against what the build and the machine say themselves. */
class EnvReportTest {
    private static final Path PROJECT = Path.of(System.getProperty("avatartrain.project.dir", "."));

    @TempDir
    Path tmp;

    @Test
    void fieldsSayTheBuildTheRuntimeAndTheBackend() throws Exception {
        Map<String, String> f;
        try (StandInNvidiaSmi smi = StandInNvidiaSmi.absent(tmp)) {
            f = EnvReport.fields();
        }
        assertEquals(projectVersion() + " (git " + gitRevision() + ")", f.get("avatar-train"));
        assertTrue(f.get("Java").contains(System.getProperty("java.runtime.version")), f.get("Java"));
        assertEquals(org.apache.spark.SparkContext.class.getPackage().getImplementationVersion(), f.get("Spark"));
        assertTrue(f.get("Hadoop").startsWith("3."), f.get("Hadoop"));
        assertEquals(pomProperty("dl4j.version"), f.get("ND4J"));
        assertTrue(f.get("ND4J backend").startsWith("CPU (nd4j-native"), f.get("ND4J backend"));
        assertTrue(f.get("ND4J native build").contains("onednn"), "the default build is onednn-avx2: " + f.get("ND4J native build"));
        assertTrue(f.get("CUDA backend in this jar").startsWith("no"), f.get("CUDA backend in this jar"));
        String flags = Files.readString(Path.of("/proc/cpuinfo"));
        assertEquals(flags.contains(" avx2"), f.get("CPU").contains("AVX2"), f.get("CPU"));
        assertEquals(flags.contains(" avx512f"), f.get("CPU").contains("AVX512F"), f.get("CPU"));
        assertEquals("none seen (nvidia-smi not found: no NVIDIA driver on this machine)", f.get("GPUs"));
    }

    @Test
    void eachGpuWithComputeCapabilityMemoryDriverAndWhetherThisBuildRunsOnIt() throws Exception {
        Map<String, String> f;
        try (StandInNvidiaSmi smi = new StandInNvidiaSmi(tmp, StandInNvidiaSmi.A10G, StandInNvidiaSmi.H100.replaceFirst("^0", "1"))) {
            f = EnvReport.fields();
        }
        assertEquals("NVIDIA A10G, compute capability 8.6 (sm_86), 23028 MiB, driver 550.54.15; this build: no CUDA backend in the jar"
                + " (mvn -Pcuda package)", f.get("GPU 0"));
        assertTrue(f.get("GPU 1").startsWith("NVIDIA H100 80GB HBM3, compute capability 9.0 (sm_90), 81559 MiB"), f.get("GPU 1"));
        assertFalse(f.containsKey("GPUs"));
        // what the cuda build says of each, by the same rule the tasks' check applies
        assertTrue(GpuReport.describe(new GpuInfo(0, "NVIDIA A10G", 8, 6, 23028, "550.54.15"), true).endsWith("; this build: runs on it"));
        assertTrue(GpuReport.describe(new GpuInfo(1, "NVIDIA H100", 9, 0, 81559, "550.54.15"), true).endsWith("; this build: cannot run on it"
                + " (nd4j-cuda-11.6 1.0.0-M2.1: machine code for sm_37 to sm_86 and no PTX: compute capability 3.7 to 8.x)"));
    }

    @Test
    void envCommandPrintsTheFieldsAndVersionPrintsTheSummaryLine() throws Exception {
        String env = capture("env");
        String versionField = "avatar-train: +" + Pattern.quote(projectVersion()) + " \\(git .+\\)";
        assertTrue(env.lines().anyMatch(l -> l.matches(versionField)), env);
        assertTrue(env.lines().anyMatch(l -> l.startsWith("ND4J backend:")), env);
        String version = capture("--version").strip();
        assertEquals(1, version.lines().count(), version);
        assertEquals(EnvReport.summary(), version);
        assertTrue(version.startsWith("avatar-train " + projectVersion() + " (git " + gitRevision()), version);
        assertTrue(version.contains("), Java " + System.getProperty("java.version") + ", "), version);
        assertTrue(version.contains(", Spark 3.5.") && version.contains(" on CPU (nd4j-native"), version);
    }

    private static String capture(String... args) {
        PrintStream out = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            assertEquals(0, Main.run(args));
        } finally {
            System.setOut(out);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }

    private static String projectVersion() throws Exception {
        Matcher m = Pattern.compile("<artifactId>avatar-train</artifactId>\\s*<version>([^<]+)</version>").matcher(Files.readString(PROJECT.resolve("pom.xml")));
        assertTrue(m.find());
        return m.group(1);
    }

    private static String pomProperty(String name) throws Exception {
        Matcher m = Pattern.compile("<" + Pattern.quote(name) + ">([^<]+)</").matcher(Files.readString(PROJECT.resolve("pom.xml")));
        assertTrue(m.find());
        return m.group(1);
    }

    /** The commit git says the checkout is at ("unknown" in a source tree without git, as the build says then). */
    private static String gitRevision() throws Exception {
        if (!Files.exists(PROJECT.resolve(".git"))) return "unknown";
        Process p = new ProcessBuilder("git", "-C", PROJECT.toString(), "rev-parse", "--short=7", "HEAD").redirectErrorStream(true).start();
        String rev = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertEquals(0, p.waitFor(), rev);
        return rev;
    }
}
