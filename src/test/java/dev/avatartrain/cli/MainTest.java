package dev.avatartrain.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class MainTest {
    @TempDir
    Path dir;

    private record Result(int status, String out, String err) {}

    private static Result run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true));
        System.setErr(new PrintStream(err, true));
        try {
            return new Result(Main.run(args), out.toString(), err.toString());
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void helpListsCommands() {
        Result r = run("--help");
        assertEquals(0, r.status);
        assertTrue(r.out.contains("synth"), r.out);
        assertTrue(r.out.contains("demo"), r.out);
        Result sub = run("synth", "--help");
        assertEquals(0, sub.status);
        assertTrue(sub.out.contains("--audio-shape"), sub.out);
    }

    /**
     * The command list shows each command's summary (picocli lists the first element of its header, else of its
     * description) whole: one sentence ending with a period, not cut at the end of a source line.
     */
    @Test
    void helpListsEveryCommandWithAWholeSentence() {
        String help = run("--help").out;
        int from = help.indexOf("Commands:");
        assertTrue(from >= 0, help);
        String[] lines = help.substring(from).split("\\R");
        CommandLine cl = new CommandLine(new Main());
        assertEquals(11, cl.getSubcommands().size(), "ten commands (env among them) and help");
        for (var e : cl.getSubcommands().entrySet()) {
            var usage = e.getValue().getCommandSpec().usageMessage();
            String summary = usage.header().length > 0 ? usage.header()[0] : usage.description()[0];
            assertTrue(summary.endsWith(".") && !summary.substring(0, summary.length() - 1).contains(". "),
                    e.getKey() + ": the summary is one sentence ending with a period: " + summary);
            // the listed text: the command's line and its wrapped continuation lines (indented, no name)
            StringBuilder listed = new StringBuilder();
            for (int i = 0; i < lines.length; i++) {
                if (!lines[i].trim().startsWith(e.getKey() + " ")) continue;
                listed.append(lines[i].trim().substring(e.getKey().length()));
                for (int j = i + 1; j < lines.length && lines[j].startsWith("   ") && !lines[j].trim().isEmpty()
                        && lines[j].matches("^ {10,}.*"); j++) {
                    listed.append(' ').append(lines[j].trim());
                }
                break;
            }
            assertEquals(summary, listed.toString().trim().replaceAll("\\s+", " "), e.getKey() + " in:\n" + help);
        }
    }

    @Test
    void usageErrorsExitWithTwo() {
        assertEquals(2, run("synth").status, "missing --out");
        assertEquals(2, run("no-such-command").status);
        Result bad = run("synth", "--out", dir.toString(), "--audio-shape", "10");
        assertEquals(2, bad.status);
        assertTrue(bad.err.contains("--audio-shape must be two positive integers"), bad.err);
    }

    @Test
    void configurationErrorsExitWithTwoAndNameTheKey() {
        Result r = run("synth", "--out", dir.toString(), "--set", "data.IMAGE_SIZE=abc");
        assertEquals(2, r.status);
        assertTrue(r.err.contains("'IMAGE_SIZE' must be an integer"), r.err);
        assertFalse(r.err.contains("\tat "), "no stack trace for bad input");
    }

    @Test
    void synthWritesTheTreeAndUsesConfiguredFolderNames() {
        Result r = run("synth", "--out", dir.toString(), "--clips", "1", "--frames", "3", "--size", "32",
                "--audio-shape", "2,4", "--set", "data.image_folder_name=frames");
        assertEquals(0, r.status, r.err);
        assertTrue(Files.isRegularFile(dir.resolve("frames/HDTF-0001/000002.png")));
        assertTrue(Files.isRegularFile(dir.resolve("audio/HDTF-0001/000002.npy")));
        assertTrue(r.out.contains("Effective configuration"), r.out);
    }

    /** The README's first adapter step: sample items at the default adapter sizes and a manifest listing them. */
    @Test
    void synthAdapterWritesAManifestOfItems() throws Exception {
        Result r = run("synth", "--adapter", "--out", dir.toString(), "--clips", "3");
        assertEquals(0, r.status, r.err);
        String manifest = Files.readString(dir.resolve("manifest.json"));
        assertEquals(3, manifest.split("\"audio\"").length - 1, manifest);
    }

    @Test
    void quietKeepsWarningsOnlyAndVerboseAddsDebugMessages() {
        String[] synth = {"synth", "--out", dir.toString(), "--clips", "1", "--frames", "2", "--size", "16", "--audio-shape", "2,4"};
        Result normal = run(synth);
        assertEquals(0, normal.status, normal.err);
        assertTrue(normal.out.contains("Effective configuration") && normal.out.contains("synth: wrote"), normal.out);
        assertFalse(normal.out.contains("verbose logging"), normal.out);

        String[] quietAfter = java.util.Arrays.copyOf(synth, synth.length + 1);
        quietAfter[synth.length] = "--quiet"; // an option of every command, after the command's name as users type it
        Result quiet = run(quietAfter);
        assertEquals(0, quiet.status, quiet.err);
        assertFalse(quiet.out.contains("Effective configuration") || quiet.out.contains("synth: wrote"), "--quiet: " + quiet.out);
        Result verbose = run(concat("-v", synth));
        assertEquals(0, verbose.status, verbose.err);
        assertTrue(verbose.out.contains("verbose logging") && verbose.out.contains("synth: wrote"), "--verbose: " + verbose.out);
        Result after = run(synth);
        assertTrue(after.out.contains("synth: wrote") && !after.out.contains("verbose logging"), "levels restored after a run: " + after.out);
    }

    private static String[] concat(String first, String[] rest) {
        String[] all = new String[rest.length + 1];
        all[0] = first;
        System.arraycopy(rest, 0, all, 1, rest.length);
        return all;
    }
}
