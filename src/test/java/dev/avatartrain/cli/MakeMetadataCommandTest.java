package dev.avatartrain.cli;

import dev.avatartrain.metadata.FrameTrees;
import dev.avatartrain.metadata.MetadataFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** The command's wiring: options, configuration folder names, its own Spark session (stopped at the end). */
class MakeMetadataCommandTest {
    @TempDir
    Path tmp;

    @Test
    void scansATreeIntoJsonWithASummary() throws Exception {
        Path root = FrameTrees.write(tmp.resolve("tree"), 2, 3);
        Path out = tmp.resolve("meta.json");
        int rc = new CommandLine(new MakeMetadataCommand()).execute("--input", root.toString(), "--output", out.toString(),
                "--master", "local[1]");
        assertEquals(Main.EXIT_OK, rc);
        assertEquals(2, MetadataFiles.fromJson(Files.readAllBytes(out), out.toString()).size());
        assertTrue(Files.exists(tmp.resolve("meta.json.summary.json")));
        assertTrue(Files.readString(tmp.resolve("meta.json.effective-config.yaml")).contains("IMAGE_SIZE"), "every job saves its configuration");
    }

    @Test
    void unknownModeIsAUsageError() {
        int rc = new CommandLine(new MakeMetadataCommand()).execute("--mode", "nope", "--input", "x", "--output", "y.json");
        assertEquals(2, rc); // picocli's usage-error status
    }
}
