package dev.avatartrain.models.cuda;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * NVRTC for the tests: the {@code nvidia-cuda-nvrtc} wheel installed once into {@code target/cuda-venv} with the
 * machine's pip (its configured index), so a fresh clone's {@code mvn verify} compiles every kernel. Where it cannot
 * be installed the calling test fails, with pip's output and the command that fixes it: never skipped.
 */
final class NvrtcVenv {
    static final String WHEEL = "nvidia-cuda-nvrtc~=13.0";
    /** What the GPU tests load besides NVRTC, where the system has no CUDA 13 of its own. */
    static final List<String> GPU_WHEELS = List.of("nvidia-cuda-runtime~=13.0", "nvidia-cublas~=13.0",
            "nvidia-cudnn-cu13~=9.0");

    private NvrtcVenv() {
    }

    /** The folder holding {@code libnvrtc.so.13}, installing the wheel first if needed. */
    static synchronized Path libDir() {
        Path venv = Path.of(System.getProperty("avatartrain.project.dir", "."), "target", "cuda-venv");
        String fix = "python3 -m venv " + venv + " && " + venv.resolve("bin/pip") + " install '" + WHEEL + "'";
        Optional<Path> found = find(venv);
        if (found.isPresent()) {
            return found.get();
        }
        run(List.of("python3", "-m", "venv", venv.toString()), fix);
        run(List.of(venv.resolve("bin/pip").toString(), "install", "--disable-pip-version-check", "--retries", "1",
                WHEEL), fix);
        return find(venv).orElseGet(() -> fail("pip installed " + WHEEL + " but " + CudaLibraries.Library.NVRTC.file
                + " is not under " + venv + "; run: " + fix));
    }

    /**
     * Every folder of the venv that holds CUDA libraries, after installing {@link #GPU_WHEELS} there (for the GPU
     * tests: {@link CudaLibraries#PATH_PROPERTY}).
     */
    static synchronized String gpuLibraryPath() {
        Path nvrtc = libDir();
        Path venv = Path.of(System.getProperty("avatartrain.project.dir", "."), "target", "cuda-venv");
        Path marker = venv.resolve("gpu-wheels.installed");
        if (!Files.exists(marker)) {
            List<String> cmd = new java.util.ArrayList<>(List.of(venv.resolve("bin/pip").toString(), "install",
                    "--disable-pip-version-check"));
            cmd.addAll(GPU_WHEELS);
            run(cmd, venv.resolve("bin/pip") + " install " + String.join(" ", GPU_WHEELS));
            try {
                Files.createFile(marker);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
        try (Stream<Path> s = Files.walk(nvrtc.getParent().getParent())) { // site-packages/nvidia
            return s.filter(p -> p.getFileName().toString().matches("lib.*\\.so(\\.[0-9]+)*"))
                    .map(p -> p.getParent().toString()).distinct()
                    .collect(java.util.stream.Collectors.joining(java.io.File.pathSeparator));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** Runs {@code body} with the system property {@code key} set to {@code value}, restoring it afterwards. */
    static void withProperty(String key, String value, Runnable body) {
        String before = System.getProperty(key);
        System.setProperty(key, value);
        try {
            body.run();
        } finally {
            if (before == null) {
                System.clearProperty(key);
            } else {
                System.setProperty(key, before);
            }
        }
    }

    private static Optional<Path> find(Path venv) {
        if (!Files.isDirectory(venv)) {
            return Optional.empty();
        }
        try (Stream<Path> s = Files.walk(venv)) {
            return s.filter(p -> p.getFileName().toString().equals(CudaLibraries.Library.NVRTC.file))
                    .map(Path::getParent)
                    .filter(d -> Files.isRegularFile(d.resolve(CudaLibraries.Library.NVRTC_BUILTINS.file)))
                    .findFirst();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static void run(List<String> command, String fix) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(15, TimeUnit.MINUTES) || p.exitValue() != 0) {
                String log = new String(out, StandardCharsets.UTF_8);
                fail("NVRTC for the kernel compile check could not be installed (" + String.join(" ", command)
                        + "):\n" + log.substring(Math.max(0, log.length() - 3000)) + "\nFix: " + fix);
            }
        } catch (IOException e) {
            fail("NVRTC for the kernel compile check could not be installed (" + e.getMessage() + "). Fix: " + fix);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            fail("interrupted while installing NVRTC");
        }
    }
}
