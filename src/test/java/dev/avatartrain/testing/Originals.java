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
 * The live re-run of the PyTorch originals, an extra check beside the stored fixtures every test compares with.
 * It runs where a Python with torch and numpy is here ({@code $AVATAR_TRAIN_PYTHON}, else the venv
 * {@code target/torch2}, else {@code python3} on the path when it imports torch) and, for scripts that import them,
 * the originals' folder ({@code $AVATAR_TRAIN_REFERENCE}, else {@code shared/reference} beside the checkout). Where
 * they are not, the check prints that it did not run and why, and the test goes on with the stored fixtures.
 */
public final class Originals {
    public static final Path PROJECT = Path.of(System.getProperty("avatartrain.project.dir", ".")).toAbsolutePath();

    private Originals() {
    }

    /** The originals' folder (holding diffusers_ref.py), or null. */
    public static Path reference() {
        String env = System.getenv("AVATAR_TRAIN_REFERENCE");
        List<Path> candidates = env != null && !env.isBlank() ? List.of(Path.of(env))
                : List.of(PROJECT.resolve("../shared/reference"), PROJECT.resolve("../../shared/reference"));
        for (Path p : candidates) {
            if (Files.isRegularFile(p.resolve("diffusers_ref.py"))) return p.toAbsolutePath().normalize();
        }
        return null;
    }

    /** A Python that imports torch and numpy, or null. */
    public static Path python() {
        List<String> candidates = new ArrayList<>();
        String env = System.getenv("AVATAR_TRAIN_PYTHON");
        if (env != null && !env.isBlank()) candidates.add(env);
        candidates.add(PROJECT.resolve("target/torch2/bin/python").toString());
        candidates.add("python3");
        for (String c : candidates) {
            try {
                Process p = new ProcessBuilder(c, "-c", "import torch, numpy").redirectErrorStream(true)
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
                if (p.waitFor(2, TimeUnit.MINUTES) && p.exitValue() == 0) return Path.of(c);
                p.destroyForcibly();
            } catch (IOException e) {
                // not here: try the next one
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            }
        }
        return null;
    }

    /**
     * Runs {@code args} (a script under src/test/scripts and its arguments) with the originals' Python when it and,
     * if {@code needsReference}, the originals' folder are here; the script's failure fails the test. Prints whether
     * the live check ran. Returns the script's output, or null when it did not run.
     */
    public static String liveCheck(String what, boolean needsReference, String... args) {
        Path python = python();
        Path reference = needsReference ? reference() : null;
        if (python == null || (needsReference && reference == null)) {
            System.out.println("[live check] " + what + ": did not run (no "
                    + (python == null ? "Python with torch: set AVATAR_TRAIN_PYTHON or make target/torch2"
                    : "PyTorch originals: set AVATAR_TRAIN_REFERENCE") + "); the stored fixtures were checked");
            return null;
        }
        List<String> cmd = new ArrayList<>(List.of(python.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(PROJECT.toFile()).redirectErrorStream(true);
        if (reference != null) pb.environment().put("AVATAR_TRAIN_REFERENCE", reference.toString());
        try {
            Process p = pb.start();
            String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(10, TimeUnit.MINUTES), what + ": " + cmd + " did not finish:\n" + log);
            assertEquals(0, p.exitValue(), "[live check] " + what + " failed: " + String.join(" ", cmd) + "\n" + log);
            System.out.println("[live check] " + what + ": ran with " + python
                    + (reference != null ? " and the originals in " + reference : "") + ", passed:\n" + log.strip());
            return log;
        } catch (IOException e) {
            return fail("cannot run " + String.join(" ", cmd) + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return fail("interrupted: " + String.join(" ", cmd));
        }
    }
}
