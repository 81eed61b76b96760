package dev.avatartrain.cli;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import org.apache.spark.sql.SparkSession;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.jobs.SparkSetup;
import dev.avatartrain.jobs.TrainAdapterJob;
import dev.avatartrain.train.adapter.AdapterOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "train-adapter", mixinStandardHelpOptions = true,
        description = {"Train InfiniteTalk's audio adapter (AudioProjModel) on the same engine as `train`.",
                "Its input is a JSON manifest of audio embeddings and teacher tokens.",
                "Defaults and every key: configuration/adapter/train_adapter.yaml."})
final class TrainAdapterCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(TrainAdapterCommand.class);
    @Option(names = "--adapter-config", paramLabel = "FILE", description = "YAML with the keys of configuration/adapter/train_adapter.yaml.")
    String adapterConfig;

    @Option(names = "--manifest", paramLabel = "M", description = "JSON list of {\"audio\", \"target\", \"weight\"} (local, s3a://, https://).")
    String manifest;

    @Option(names = "--output-dir", paramLabel = "D", description = "Checkpoints, metrics and adapter.safetensors.")
    String outputDir;

    @Option(names = "--batch-size", paramLabel = "N", description = "Clips per micro-batch per worker (default 2).")
    Integer batchSize;

    @Option(names = "--epochs", paramLabel = "N", description = "Passes over the training clips (default 5).")
    Integer epochs;

    @Option(names = "--lr", paramLabel = "LR", description = "Learning rate (default 1e-4).")
    Double lr;

    @Option(names = "--mixed-precision", description = "Accepted: training stays float32; the exported weights are fp16.")
    Boolean mixedPrecision;

    @Option(names = "--audio-window", paramLabel = "W", description = "Odd window of audio frames per video frame (default 5).")
    Integer audioWindow;

    @Option(names = "--vae-scale", paramLabel = "S", description = "Video frames per latent frame after the first (default 4).")
    Integer vaeScale;

    @Option(names = "--init-weights", paramLabel = "W", description = "Released adapter weights to start from (.safetensors or .pt).")
    String initWeights;

    @Option(names = "--set", paramLabel = "KEY=VALUE", description = "Any key of train_adapter.yaml, e.g. --set num_workers=2 or --set adapter.num_workers=2 (repeatable).")
    List<String> set = new java.util.ArrayList<>();

    @Option(names = "--config-dir", paramLabel = "DIR", description = "Engine defaults (train.yaml, optimizer.yaml, …; default configuration/global):"
            + " local, bundled in the jar or a storage URL.")
    String configDir;

    @Option(names = "--overwrite", description = "Start a new run although output_dir holds another run's checkpoints: they, and that run's"
            + " metrics, plot and adapter.safetensors, are moved aside into output_dir/previous-runs/<time>/ (never deleted).")
    boolean overwrite;

    @Option(names = "--master", paramLabel = "URL", description = "Spark master (default: local[*]; spark-submit's --master wins).")
    String master;

    @Override
    public Integer call() throws Exception {
        for (String s : set) if (s.indexOf('=') <= 0) throw new BadInputException("--set " + s + ": expected KEY=VALUE");
        Map<String, Object> o = new LinkedHashMap<>();
        putIf(o, "manifest", manifest);
        putIf(o, "output_dir", outputDir);
        putIf(o, "batch_size", batchSize);
        putIf(o, "epochs", epochs);
        putIf(o, "lr", lr);
        putIf(o, "mixed_precision", mixedPrecision);
        putIf(o, "audio_window", audioWindow);
        putIf(o, "vae_scale", vaeScale);
        putIf(o, "init_weights", initWeights);
        AdapterOptions options = AdapterOptions.loadFrom(adapterConfig, set, o);
        StopOnSignal.install(Main.resumeCommand("resume_from_checkpoint=latest"));
        LOG.info("train-adapter options: " + options.values());
        SparkSession spark = SparkSetup.session("avatar-train train-adapter", master);
        try {
            TrainAdapterJob.run(spark, options, configDir, overwrite);
        } finally {
            spark.stop();
        }
        return Main.EXIT_OK;
    }

    private static void putIf(Map<String, Object> o, String key, Object v) {
        if (v != null) o.put(key, v);
    }
}
