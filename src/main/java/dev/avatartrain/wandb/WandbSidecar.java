package dev.avatartrain.wandb;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The driver's end of {@code wandb_sidecar.py} (a resource of the jar): a Python process, started with the
 * interpreter of {@code AVATAR_TRAIN_PYTHON} (environment or {@code -D} property; default {@code python3}), that
 * gets one JSON message per line on its stdin and calls the {@code wandb} SDK. It ends with the job: {@link #finish}
 * sends "finish" and waits for it; if the JVM dies, the closed pipe ends the W&amp;B run as failed. Where
 * {@code wandb} cannot be imported, {@link #start} logs one line saying what to install and returns null: the run goes on without W&amp;B.
 */
public final class WandbSidecar implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WandbSidecar.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String PREFIX = "avatar-train-sidecar: ";
    private static final long START_SECONDS = 180, FINISH_SECONDS = 300;

    private final Process process;
    private final OutputStream in;
    private final Path scratch;
    private final CompletableFuture<String> finished = new CompletableFuture<>();
    private boolean broken;

    private WandbSidecar(Process process, Path scratch) {
        this.process = process;
        this.in = process.getOutputStream();
        this.scratch = scratch;
    }

    /** The interpreter: {@code AVATAR_TRAIN_PYTHON} as a property, else as a variable, else {@code python3}. */
    static String python() {
        String p = System.getProperty("AVATAR_TRAIN_PYTHON", System.getenv("AVATAR_TRAIN_PYTHON"));
        return p == null || p.isBlank() ? "python3" : p;
    }

    /**
     * Starts the sidecar and opens W&amp;B run {@code id} (a resumed session continues it) with {@code config} as
     * {@code wandb.config}; null, after one line saying why, when Python or {@code wandb} is not there.
     */
    public static WandbSidecar start(String id, String name, Map<String, ?> config) {
        String python = python();
        Path scratch = null;
        try {
            scratch = Files.createTempDirectory("avatar-train-wandb-");
            Path script = scratch.resolve("wandb_sidecar.py");
            try (InputStream s = WandbSidecar.class.getResourceAsStream("/avatar-train/wandb_sidecar.py")) {
                Files.copy(s, script);
            }
            Process p = new ProcessBuilder(python, "-u", script.toString()).redirectErrorStream(true).start();
            WandbSidecar sidecar = new WandbSidecar(p, scratch);
            CompletableFuture<String> started = new CompletableFuture<>();
            Thread reader = new Thread(() -> sidecar.pump(p.getInputStream(), started), "wandb-sidecar-output");
            reader.setDaemon(true);
            reader.start();
            Map<String, Object> init = new LinkedHashMap<>();
            init.put("type", "init");
            init.put("id", id);
            init.put("name", name);
            init.put("config", config);
            init.put("dir", System.getenv("WANDB_DIR"));
            sidecar.send(init);
            String answer = started.get(START_SECONDS, TimeUnit.SECONDS);
            if (answer.startsWith("ready")) {
                LOG.info("train: wandb_enabled: streaming this run to Weights & Biases (run id {}, wandb {}, {})", id,
                        answer.substring(5).strip(), python);
                return sidecar;
            }
            sidecar.kill();
            deleteScratch(scratch);
            LOG.warn("train: wandb_enabled, but {} {}: install it on the driver's machine (`{} -m pip install wandb`,"
                    + " then"
                    + " `wandb login` or WANDB_API_KEY), name another interpreter with AVATAR_TRAIN_PYTHON, or set"
                    + " wandb_enabled: false; training goes on without W&B.", python, answer, python);
            return null;
        } catch (IOException | TimeoutException | java.util.concurrent.ExecutionException e) {
            LOG.warn("train: wandb_enabled, but the W&B sidecar could not start with {} ({}): install Python 3 and"
                    + " `pip install wandb` on the driver's machine, or set wandb_enabled: false; training goes on"
                    + " without W&B.",
                    python, e.getMessage());
            deleteScratch(scratch);
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            deleteScratch(scratch);
            return null;
        }
    }

    /** Forwards the sidecar's output to the log; its own answers complete {@code started} and {@link #finished}. */
    private void pump(InputStream out, CompletableFuture<String> started) {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(out, StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                if (line.startsWith(PREFIX)) {
                    String answer = line.substring(PREFIX.length());
                    if (answer.startsWith("finished")) finished.complete(answer);
                    else started.complete(answer.startsWith("error: ") ? answer.substring(7) : answer);
                } else if (!line.isBlank()) {
                    LOG.info("wandb: {}", line);
                }
            }
        } catch (IOException e) {
            // the process ended
        } finally {
            started.complete("exited before it was ready (its output is above, in the wandb: lines)");
            finished.complete("gone");
        }
    }

    private synchronized void send(Map<String, ?> message) {
        if (broken) return;
        try {
            in.write(JSON.writeValueAsBytes(message));
            in.write('\n');
            in.flush();
        } catch (IOException e) {
            broken = true;
            LOG.warn("train: the W&B sidecar stopped taking messages ({}); training goes on without W&B",
                    e.getMessage());
        }
    }

    /** One metrics row at {@code step}; non-numeric values are left out. */
    public void log(long step, Map<String, ?> values) {
        Map<String, Object> data = new LinkedHashMap<>();
        values.forEach((k, v) -> {
            if (v instanceof Number n && Double.isFinite(n.doubleValue())) data.put(k, n);
        });
        if (data.isEmpty()) return;
        send(Map.of("type", "log", "step", step, "data", data));
    }

    /** A PNG logged as {@code wandb.Image} under {@code key}; the bytes are kept in a scratch file until the end. */
    public void image(long step, String key, byte[] png, String caption) throws IOException {
        Path file = scratch.resolve(key.replaceAll("[^A-Za-z0-9_.-]", "_") + "-" + step + ".png");
        Files.write(file, png);
        send(Map.of("type", "image", "step", step, "key", key, "path", file.toString(), "caption", caption));
    }

    /** A reference artifact (nothing uploaded) to {@code uri}, e.g. the final checkpoint. */
    public void artifact(String name, String kind, String uri) {
        send(Map.of("type", "artifact", "name", name, "kind", kind, "uri", uri));
    }

    /** Ends the W&amp;B run with {@code exitCode} and waits for the sidecar (W&amp;B uploads what is left). */
    public void finish(int exitCode) {
        send(Map.of("type", "finish", "exit_code", exitCode));
        close();
    }

    /** Closes the sidecar's input (a run not finished ends as failed) and waits for it to exit. */
    @Override
    public void close() {
        try {
            in.close();
        } catch (IOException e) {
            // already gone
        }
        try {
            finished.get(FINISH_SECONDS, TimeUnit.SECONDS);
            if (!process.waitFor(30, TimeUnit.SECONDS)) kill();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            kill();
        } catch (TimeoutException | java.util.concurrent.ExecutionException e) {
            LOG.warn("train: the W&B sidecar did not finish within {} s; stopping it", FINISH_SECONDS);
            kill();
        }
        deleteScratch(scratch);
    }

    private void kill() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) process.destroyForcibly();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }

    private static void deleteScratch(Path dir) {
        if (dir == null) return;
        try (var s = Files.walk(dir)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            LOG.debug("could not delete {}: {}", dir, e.toString());
        }
    }
}
