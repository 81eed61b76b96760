package dev.avatartrain.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The PyTorch originals the parity and export tests compare with: Debian's {@code /usr/bin/python3} with
 * {@code python3-torch} and the diffusers model code in {@code ../shared/reference}. A machine without the Debian
 * packages gets them installed once ({@code bin/install-debian-packages}, as the notebooks and browser tests do); a
 * test that cannot have them fails with the reason instead of being skipped, so CI never passes without the check.
 */
public final class ReferencePython {
    public static final Path PROJECT = Path.of(System.getProperty("avatartrain.project.dir", ".")).toAbsolutePath();
    /** The packages ../shared/reference/README.md lists for running diffusers_ref.py. */
    static final List<String> PACKAGES = List.of("python3-torch", "python3-numpy", "libopenblas0-pthread", "python3-packaging",
            "python3-filelock", "python3-regex", "python3-requests", "python3-importlib-metadata", "python3-tqdm", "python3-pil");
    private static final Path PYTHON = Path.of("/usr/bin/python3");
    private static boolean ready;

    private ReferencePython() {}

    /** {@code /usr/bin/python3} able to import torch, numpy and what diffusers_ref.py imports, installing the Debian packages when missing. */
    public static synchronized Path python() {
        if (ready) return PYTHON;
        if (!importsTorch()) {
            List<String> cmd = new ArrayList<>(List.of("bash", "bin/install-debian-packages"));
            cmd.addAll(PACKAGES);
            String out = run(cmd, 30);
            if (!importsTorch()) fail("Debian's python3-torch is needed by this test and could not be installed:\n" + out);
        }
        ready = true;
        return PYTHON;
    }

    /** {@code ../shared} (with {@code reference/}) beside the checkout, or beside a worktree one level deeper. */
    public static Path shared() {
        for (Path p : new Path[] {PROJECT.resolve("../shared"), PROJECT.resolve("../../shared")}) {
            if (Files.isDirectory(p.resolve("reference"))) return p.normalize();
        }
        return fail("../shared/reference (the PyTorch originals) must be beside the checkout " + PROJECT);
    }

    /** Runs a reference script (args after the interpreter) in the project folder; fails with its output unless it exits 0. */
    public static String runScript(String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(python().toString());
        cmd.addAll(List.of(args));
        shared();
        return run(cmd, 10);
    }

    private static boolean importsTorch() {
        if (!Files.isExecutable(PYTHON)) return false;
        try {
            Process p = new ProcessBuilder(PYTHON.toString(), "-c", "import torch, numpy, PIL, packaging, filelock, regex, requests, tqdm")
                    .redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(2, TimeUnit.MINUTES) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static String run(List<String> cmd, int minutes) {
        try {
            Process p = new ProcessBuilder(cmd).directory(PROJECT.toFile()).redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(minutes, TimeUnit.MINUTES), String.join(" ", cmd) + " did not finish in " + minutes + " min:\n" + log);
            assertEquals(0, p.exitValue(), String.join(" ", cmd) + " failed:\n" + log);
            return log;
        } catch (IOException e) {
            return fail("cannot run " + String.join(" ", cmd) + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return fail("interrupted: " + String.join(" ", cmd));
        }
    }
}
