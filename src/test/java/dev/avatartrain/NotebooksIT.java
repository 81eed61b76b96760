package dev.avatartrain;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Executes every notebook of {@code notebooks/} with {@code notebooks/run.sh} (Debian's jupyter-nbconvert) against
 * the demo's outputs ({@code output/demo}; the script runs the demo first when it is missing). Fails, with the
 * script's log, where jupyter, pandas or matplotlib are missing and cannot be installed.
 */
class NotebooksIT {
    @Test
    void everyNotebookExecutesAgainstTheDemoOutputs() throws IOException, InterruptedException {
        Path project = Path.of(System.getProperty("avatartrain.project.dir", ".")).toAbsolutePath();
        Path log = project.resolve("target/notebooks-run.log");
        Files.createDirectories(log.getParent());
        Process p = new ProcessBuilder("bash", "notebooks/run.sh").directory(project.toFile())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        assertTrue(p.waitFor(40, TimeUnit.MINUTES), "notebooks/run.sh did not finish; log: " + log);
        String out = Files.readString(log);
        assertEquals(0, p.exitValue(), "notebooks/run.sh failed:\n" + out);
        try (var s = Files.list(project.resolve("notebooks"))) {
            for (Path nb : s.filter(f -> f.toString().endsWith(".ipynb")).toList()) {
                Path executed = project.resolve("target/notebooks").resolve(nb.getFileName());
                assertTrue(Files.isRegularFile(executed), "executed notebook " + executed);
                assertTrue(Files.readString(executed).contains("\"outputs\": ["), executed.toString());
            }
        }
    }
}
