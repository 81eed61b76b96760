package dev.avatartrain.jobs;

import dev.avatartrain.config.AppConfig;
import dev.avatartrain.config.ProjectPaths;
import dev.avatartrain.synth.SyntheticClips;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * {@code avatar-train demo}: the whole pipeline on generated data with {@code configuration/demo}.
 * Stages run in pipeline order; each stage is the same code its own command runs.
 */
public final class DemoJob {
    private DemoJob() {}

    public static Path demoConfigDir() {
        return ProjectPaths.resolve("configuration/demo");
    }

    public static void run(AppConfig config, String master) {
        Path out = Path.of(config.data().outputDir());
        Path data = Path.of(config.data().localDataBaseUrl());
        System.out.println("demo: 1/1 synth: sample clips whose mouth follows their audio features");
        SynthJob.run(data, new SyntheticClips.Spec(6, 40, config.data().imageSize(), 4, 32, config.train().seed(),
                config.data().imageFolderName(), config.data().audioFolderName()));
        try {
            config.save(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        System.out.println("demo: done. Sample data in " + data.toAbsolutePath()
                + ". (make-metadata, encode and train join this demo as they land: see README 'Status'.)");
    }
}
