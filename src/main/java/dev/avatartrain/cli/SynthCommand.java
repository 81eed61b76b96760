package dev.avatartrain.cli;

import dev.avatartrain.jobs.SynthJob;
import dev.avatartrain.synth.SyntheticClips;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

@Command(name = "synth", mixinStandardHelpOptions = true,
        description = "Write an HDTF-like sample tree: <out>/aligned-frames/HDTF-0001/000000.png and <out>/audio/HDTF-0001/000000.npy.")
final class SynthCommand implements Callable<Integer> {
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Output folder (created).")
    Path out;

    @Option(names = "--clips", defaultValue = "4", description = "Clips to write (default: ${DEFAULT-VALUE}).")
    int clips;

    @Option(names = "--frames", defaultValue = "60", description = "Frames per clip (default: ${DEFAULT-VALUE}).")
    int frames;

    @Option(names = "--size", defaultValue = "256", paramLabel = "PX", description = "Frame width and height in pixels (default: ${DEFAULT-VALUE}).")
    int size;

    @Option(names = "--audio-shape", defaultValue = "10,384", paramLabel = "A,D",
            description = "Per-frame audio feature shape [tokens, dim] (default: ${DEFAULT-VALUE}, whisper-tiny-like).")
    String audioShape;

    @Option(names = "--seed", defaultValue = "42", description = "Seed; the same seed writes identical files (default: ${DEFAULT-VALUE}).")
    long seed;

    @Mixin
    CommonOptions common;

    @Override
    public Integer call() {
        int[] shape = Args.intPair("--audio-shape", audioShape);
        var config = common.loadConfig();
        SynthJob.run(out, new SyntheticClips.Spec(Args.positive("--clips", clips), Args.positive("--frames", frames),
                Args.positive("--size", size), shape[0], shape[1], seed,
                config.data().imageFolderName(), config.data().audioFolderName()));
        return Main.EXIT_OK;
    }
}
