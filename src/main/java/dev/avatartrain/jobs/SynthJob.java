package dev.avatartrain.jobs;

import dev.avatartrain.synth.SyntheticClips;

import java.nio.file.Path;

/** {@code avatar-train synth}: writes the sample frame tree. */
public final class SynthJob {
    private SynthJob() {}

    public static void run(Path out, SyntheticClips.Spec spec) {
        System.out.printf("synth: writing %d clips x %d frames (%dx%d PNG, audio [%d, %d] float32, seed %d) to %s%n",
                spec.clips(), spec.frames(), spec.size(), spec.size(), spec.audioTokens(), spec.audioDim(), spec.seed(),
                out.toAbsolutePath());
        long t0 = System.nanoTime();
        long frames = SyntheticClips.write(out, spec);
        System.out.printf("synth: wrote %d frames in %.1f s%n", frames, (System.nanoTime() - t0) / 1e9);
    }
}
