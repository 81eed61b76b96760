package dev.avatartrain.jobs;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.avatartrain.synth.SyntheticClips;

import java.nio.file.Path;

/** {@code avatar-train synth}: writes the sample frame tree. */
public final class SynthJob {
    private static final Logger LOG = LoggerFactory.getLogger(SynthJob.class);
    private SynthJob() {}

    public static void run(Path out, SyntheticClips.Spec spec) {
        LOG.info(String.format("synth: writing %d clips x %d frames (%dx%d PNG, audio [%d, %d] float32, seed %d) to %s",
                spec.clips(), spec.frames(), spec.size(), spec.size(), spec.audioTokens(), spec.audioDim(), spec.seed(),
                out.toAbsolutePath()));
        long t0 = System.nanoTime();
        long frames = SyntheticClips.write(out, spec);
        LOG.info(String.format("synth: wrote %d frames in %.1f s", frames, (System.nanoTime() - t0) / 1e9));
    }
}
