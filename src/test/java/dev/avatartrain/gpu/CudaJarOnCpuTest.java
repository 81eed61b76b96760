package dev.avatartrain.gpu;

import static org.junit.jupiter.api.Assertions.*;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code -Pcuda} build on a machine without a GPU: ND4J's CUDA backend beside the CPU one, ND4J takes the CPU and
 * the log says so, once, without the stack trace of the CUDA driver library it could not load; train-adapter trains.
 * The CUDA backend's classes come from target/cuda-classes (pom.xml) without its 600 MB native build, which is never
 * loaded where there is no GPU: the check CI can afford on every run (the whole -Pcuda jar: docs/gpu.md).
 */
class CudaJarOnCpuTest {
    @TempDir
    Path tmp;

    @Test
    void trainAdapterRunsOnTheCpuBackendAndSaysWhy() throws Exception {
        Path cudaClasses = Path.of("target", "cuda-classes");
        List<String> jars;
        try (Stream<Path> s = Files.list(cudaClasses)) {
            jars = s.map(Path::toString).filter(n -> n.endsWith(".jar")).sorted().toList();
        }
        assertEquals(4, jars.size(), "nd4j-cuda-11.6, its preset, JavaCPP's cuda and its linux-x86_64 bindings: " + jars);
        String classpath = System.getProperty("java.class.path") + File.pathSeparator + String.join(File.pathSeparator, jars);
        String config = "configuration/demo/train_adapter.yaml";
        String synth = run(classpath, "synth", "--adapter", "--adapter-config", config, "--out", tmp.resolve("data").toString(), "--clips", "6");
        assertFalse(synth.contains("\tat org.nd4j.linalg.jcublas.JCublasBackend.canRun"), "ND4J loaded at the start, quietly:\n" + synth);
        String out = run(classpath, "train-adapter", "--adapter-config", config, "--manifest", tmp.resolve("data/manifest.json").toString(),
                "--output-dir", tmp.resolve("out").toString(), "--epochs", "1", "--master", "local[2]");
        assertTrue(out.contains("Skipped [JCublasBackend] backend (unavailable)"), "ND4J considered its CUDA backend first:\n" + out);
        List<String> said = out.lines().filter(l -> l.startsWith("ND4J backend: ")).toList();
        assertEquals(List.of("ND4J backend: CPU (nd4j-native, BLAS OPENBLAS); the jar's CUDA backend was not taken: no GPU seen"
                + " (nvidia-smi not found: no NVIDIA driver on this machine)"), said, "once per JVM:\n" + out);
        assertFalse(out.contains("\tat org.nd4j.linalg.jcublas.JCublasBackend.canRun"), "no stack trace for the expected skip:\n" + out);
        assertTrue(Files.isRegularFile(tmp.resolve("out/adapter.safetensors")), "trained:\n" + out);
    }

    private String run(String classpath, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx1500m"));
        cmd.addAll(List.of(Files.readString(Path.of("target/classes/avatar-train/jvm-options.txt")).strip().split("\\s+")));
        cmd.addAll(List.of("-Davatartrain.nvidiaSmi=" + tmp.resolve("no-nvidia-smi"), "-Dlog4j2.configurationFile=bin/log4j2.properties",
                "-cp", classpath, "dev.avatartrain.cli.Main"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), String.join(" ", args) + " failed:\n" + out);
        return out;
    }
}
