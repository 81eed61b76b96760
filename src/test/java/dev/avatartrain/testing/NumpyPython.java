package dev.avatartrain.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * {@code python3} with numpy, for tests that check files against what Python's json and numpy write. Installs
 * Debian's {@code python3-numpy} when it is missing ({@code bin/install-debian-packages}, as root), and fails with the
 * reason where it cannot, so the check never passes unrun.
 */
public final class NumpyPython {
    private static boolean ready;

    private NumpyPython() {
    }

    /** {@code python3}, able to import numpy. */
    public static synchronized Path python() {
        if (ready) return Path.of("python3");
        if (!importsNumpy()) {
            String out;
            try {
                Process p = new ProcessBuilder("bash", "bin/install-debian-packages", "python3", "python3-numpy")
                        .directory(Originals.PROJECT.toFile()).redirectErrorStream(true).start();
                out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                p.waitFor(30, TimeUnit.MINUTES);
            } catch (IOException e) {
                out = e.getMessage();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                out = "interrupted";
            }
            if (!importsNumpy()) fail("python3 with numpy is needed by this test and could not be installed:\n" + out);
        }
        ready = true;
        return Path.of("python3");
    }

    private static boolean importsNumpy() {
        try {
            Process p = new ProcessBuilder("python3", "-c", "import json, numpy").redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            return p.waitFor(2, TimeUnit.MINUTES) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
