package dev.avatartrain.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * TensorBoard's own reader, from Java tests: {@code src/test/scripts/read_tensorboard.py} run in a venv under
 * {@code target/tb} that this class creates on first use ({@code python3 -m venv}, installing Debian's
 * {@code python3-venv} when venv is missing; {@code pip install tensorboard} from pip's configured package index).
 * Fails, never skips, when python, the venv or the package cannot be had.
 */
public final class TensorBoardReader {
    private static final Path PROJECT = Path.of(System.getProperty("avatartrain.project.dir", ".")).toAbsolutePath();
    private static final Path VENV = PROJECT.resolve("target/tb");

    private TensorBoardReader() {}

    /** What TensorBoard reads in {@code logdir}: {@code scalars}/{@code images}/{@code texts} by tag. */
    public static synchronized JsonNode read(Path logdir) throws IOException, InterruptedException {
        Path python = venvPython();
        String out = run(List.of(python.toString(), PROJECT.resolve("src/test/scripts/read_tensorboard.py").toString(), logdir.toString()), 5);
        return new ObjectMapper().readTree(out.substring(out.indexOf('{')));
    }

    private static Path venvPython() throws IOException, InterruptedException {
        Path python = VENV.resolve("bin/python");
        if (Files.isExecutable(python) && exitOf(List.of(python.toString(), "-c", "import tensorboard, PIL")) == 0) return python;
        List<String> venv = List.of("python3", "-m", "venv", "--clear", VENV.toString());
        if (exitOf(venv) != 0) {
            // Debian and Ubuntu ship venv (with the pip it bootstraps) as a package of its own
            run(List.of("bash", PROJECT.resolve("bin/install-debian-packages").toString(), "python3-venv"), 30);
            run(venv, 5);
        }
        // --retries 0: the package index here is local; an unreachable default index should fail fast, not back off
        run(List.of(VENV.resolve("bin/pip").toString(), "install", "--quiet", "--retries", "0", "tensorboard"), 10);
        assertEquals(0, exitOf(List.of(python.toString(), "-c", "import tensorboard, PIL")), "tensorboard not importable in " + VENV);
        return python;
    }

    private static int exitOf(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        assertTrue(p.waitFor(2, TimeUnit.MINUTES), "did not finish: " + cmd);
        return p.exitValue();
    }

    private static String run(List<String> cmd, int minutes) throws IOException, InterruptedException {
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new AssertionError("cannot run " + cmd + " (TensorBoard's reader needs python3 with venv): " + e.getMessage(), e);
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(minutes, TimeUnit.MINUTES), "did not finish in " + minutes + " min: " + cmd + "\n" + out);
        assertEquals(0, p.exitValue(), "failed: " + cmd + "\n" + out);
        return out;
    }
}
