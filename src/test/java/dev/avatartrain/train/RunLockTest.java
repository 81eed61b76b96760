package dev.avatartrain.train;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.storage.Storage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** A run holds its output folder against runs in other processes: real JVMs, a real lock, a real kill -9. */
class RunLockTest {
    @TempDir
    Path tmp;

    static Process holder(Path out) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .filter(a -> !a.startsWith("-agentlib") && !a.startsWith("-Xmx")).toList());
        cmd.addAll(List.of("-Xmx128m", "-cp", System.getProperty("java.class.path"), RunLockHolder.class.getName(),
                out.toString()));
        return new ProcessBuilder(cmd).redirectErrorStream(true).start();
    }

    /** The child's first line of interest ("held" or "refused: ..."), skipping log lines. */
    static String firstWord(Process p) throws Exception {
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        for (String line; (line = r.readLine()) != null; ) if (line.equals("held") || line.startsWith("refused: ")) return line;
        return "exited " + p.waitFor();
    }

    @Test
    void aSecondJvmIsRefusedNamingTheHolderAndADeadHoldersLockIsTakenOver() throws Exception {
        Path out = tmp.resolve("out");
        Process first = holder(out);
        try {
            assertEquals("held", firstWord(first));
            // a second JVM into the same folder, while the first holds it
            Process second = holder(out);
            String said = firstWord(second);
            assertTrue(second.waitFor(60, TimeUnit.SECONDS));
            assertEquals(3, second.exitValue(), said);
            assertTrue(said.contains("in use by a running 'train' (process " + first.pid() + " on "), said);
            assertTrue(said.contains(out.resolve(RunLock.FILE).toString()), said);
            // and this JVM too
            BadInputException e = assertThrows(BadInputException.class, () -> RunLock.acquire(Storage.forUrl(out.toString(), null), "train"));
            assertTrue(e.getMessage().contains("process " + first.pid()), e.getMessage());
        } finally {
            first.destroyForcibly(); // kill -9: the run dies without releasing anything
            first.waitFor();
        }
        String dead = Files.readString(out.resolve(RunLock.FILE));
        assertTrue(dead.contains("\"pid\":" + first.pid()), "the dead run's lock file stays: " + dead);
        try (RunLock taken = RunLock.acquire(Storage.forUrl(out.toString(), null), "train")) {
            // (not read here: closing any channel on the file would drop this JVM's lock; the other JVM reads it)
            BadInputException again = assertThrows(BadInputException.class,
                    () -> RunLock.acquire(Storage.forUrl(out.toString(), null), "train-adapter"));
            assertTrue(again.getMessage().contains("process " + ProcessHandle.current().pid()), again.getMessage());
            Process third = holder(out);
            assertTrue(firstWord(third).contains("process " + ProcessHandle.current().pid()));
            assertTrue(third.waitFor(60, TimeUnit.SECONDS));
        }
        // released at the end: the next run takes it at once
        Process fourth = holder(out);
        try {
            assertEquals("held", firstWord(fourth));
        } finally {
            fourth.getOutputStream().close(); // a clean end
            assertTrue(fourth.waitFor(60, TimeUnit.SECONDS));
            assertEquals(0, fourth.exitValue());
        }
        assertTrue(Files.readString(out.resolve(RunLock.FILE)).contains("\"released\":true"));
    }
}
