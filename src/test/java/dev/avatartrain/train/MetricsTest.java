package dev.avatartrain.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.avatartrain.storage.Storage;

/** A long run's metrics files are appended to (offsets only grow, same file), the plot is drawn at validations and the end. */
class MetricsTest {
    @TempDir
    Path dir;

    @Test
    void aLongRunAppendsAndAResumedRunAppendsAfterIt() throws Exception {
        Storage out = Storage.forUrl(dir.toString(), null);
        Path jsonl = dir.resolve(Metrics.JSONL), csv = dir.resolve(Metrics.CSV), plot = dir.resolve(Metrics.PLOT);
        Files.writeString(jsonl, "{\"step\":99,\"train_loss\":1}\n"); // an earlier, unrelated run: a fresh run starts anew
        Metrics m = new Metrics(out, 0);
        m.validated(0, row(0, 1.0));
        assertTrue(Files.exists(plot), "drawn at a validation");
        Object inode = Files.getAttribute(jsonl, "unix:ino");
        Growth g = new Growth(jsonl, csv);
        for (long step = 1; step <= 300; step++) {
            Files.deleteIfExists(plot);
            m.round(round(step));
            g.check();
            assertFalse(Files.exists(plot), "not redrawn for a training row (step " + step + ")");
            if (step % 100 == 0) {
                m.validated(step, row(step, 1.0 / step));
                g.check();
                assertTrue(Files.exists(plot), "redrawn at the validation of step " + step);
            }
        }
        Files.deleteIfExists(plot);
        m.finished(300);
        assertTrue(Files.exists(plot), "drawn at the end");
        assertEquals(inode, Files.getAttribute(jsonl, "unix:ino"), "the same file, appended to (not replaced)");
        List<String> lines = Files.readAllLines(jsonl);
        assertEquals(1 + 300 + 3, lines.size());
        assertFalse(lines.get(0).contains("\"step\":99"), "a fresh run does not append to an earlier run's rows");
        List<String> csvLines = Files.readAllLines(csv);
        assertEquals(1 + 300 + 3, csvLines.size() - 1);
        assertEquals("step,round,train_loss,lr,grad_norm,samples_per_s,round_s,compute_s,val_loss,val_l1", csvLines.get(0));
        assertEquals(10, csvLines.get(csvLines.size() - 1).split(",", -1).length, "every line has the header's columns");

        // a run resumed from step 200 appends; its plot and dashboard rows follow its own trajectory
        Files.writeString(jsonl, "{\"step\":301,\"train", java.nio.file.StandardOpenOption.APPEND); // stopped mid-line
        Metrics resumed = new Metrics(out, 200);
        assertEquals(1 + 200 + 2, resumed.rows().size(), "rows up to the checkpoint's step");
        g = new Growth(jsonl, csv);
        resumed.round(round(201));
        g.check();
        List<String> after = Files.readAllLines(jsonl);
        assertTrue(after.get(after.size() - 1).startsWith("{\"step\":201,"), "the appended row starts its own line: " + after.get(after.size() - 1));
        assertEquals(1, Files.readAllLines(csv).stream().filter(l -> l.startsWith("step,")).count(), "one CSV header");
        assertEquals(201L, ((Number) resumed.rows().get(resumed.rows().size() - 1).get("step")).longValue());
    }

    private static TrainingListener.Round round(long step) {
        return new TrainingListener.Round(step, step - 1, step, false, 1.0 / step, 1e-3, 0.5, 8, 0.25, 0.2);
    }

    private static Map<String, Object> row(long step, double loss) {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("step", step);
        v.put("val_loss", loss);
        v.put("val_l1", loss);
        return v;
    }

    /** Each file only grows, and what it held stays as it was (offsets only grow). */
    private static final class Growth {
        private final Path[] files;
        private final byte[][] before;

        Growth(Path... files) throws Exception {
            this.files = files;
            this.before = new byte[files.length][];
            for (int i = 0; i < files.length; i++) before[i] = Files.readAllBytes(files[i]);
        }

        void check() throws Exception {
            for (int i = 0; i < files.length; i++) {
                byte[] now = Files.readAllBytes(files[i]);
                assertTrue(now.length > before[i].length, files[i] + " grew");
                assertArrayEquals(before[i], Arrays.copyOf(now, before[i].length), files[i] + ": earlier bytes unchanged");
                before[i] = now;
            }
        }
    }
}
