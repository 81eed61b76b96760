package dev.avatartrain.cli;

import dev.avatartrain.config.AppConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
    private static final Logger LOG = LoggerFactory.getLogger(SynthCommand.class);
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

    @Option(names = "--adapter", description = {"Write train-adapter sample data instead: <out>/manifest.json, audio/ and target/ items",
            "(.npy, .pt, .safetensors) of varied lengths, targets from a seeded random teacher (<out>/teacher.safetensors).",
            "Sizes from --adapter-config (default: configuration/adapter/train_adapter.yaml); --clips items."})
    boolean adapter;

    @Option(names = "--adapter-config", paramLabel = "FILE", description = "With --adapter: YAML with the adapter's sizes.")
    Path adapterConfig;

    @Mixin
    CommonOptions common;

    @Override
    public Integer call() throws Exception {
        if (adapter) {
            var o = dev.avatartrain.train.adapter.AdapterOptions.load(adapterConfig, java.util.List.of(), java.util.Map.of("manifest", "(synth: sizes only)"));
            Path m = dev.avatartrain.synth.SyntheticAdapterData.write(out, o.model(), Args.positive("--clips", clips), seed);
            LOG.info("synth: adapter sample data, " + clips + " items → " + m);
            return Main.EXIT_OK;
        }
        int[] shape = Args.intPair("--audio-shape", audioShape);
        var config = common.loadConfig();
        SynthJob.run(out, new SyntheticClips.Spec(Args.positive("--clips", clips), Args.positive("--frames", frames),
                Args.positive("--size", size), shape[0], shape[1], seed,
                config.data().imageFolderName(), config.data().audioFolderName()));
        CommonOptions.saveConfig(config, out.resolve(AppConfig.EFFECTIVE_CONFIG_FILE).toString(), null);
        return Main.EXIT_OK;
    }
}
