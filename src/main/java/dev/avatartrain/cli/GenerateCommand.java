package dev.avatartrain.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import org.apache.spark.sql.SparkSession;

import dev.avatartrain.config.AppConfig;
import dev.avatartrain.jobs.GenerateJob;
import dev.avatartrain.jobs.SparkSetup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Predict every frame of clips with a checkpoint or exported weights, and score the predictions.",
                "The clips' frames and audio features are read under data.yaml's local or remote base; the lower half",
                "is inpainted from the audio, the reference frame chosen as in training.",
                "Writes OUT/<clip>/frames/*.png, OUT/<clip>/strip.png (real | predicted), OUT/<clip>/generate.json (per-frame and mean",
                "PSNR/SSIM of the mouth region, the lower half) and OUT/generate.json. Clips are spread over Spark partitions."})
final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--weights", required = true, paramLabel = "W",
            description = "A checkpoint folder, an export (file, diffusers or MuseTalk folder), a storage URL: what"
                    + " model.unet_pretrained_model_name_or_path accepts.")
    String weights;

    @Option(names = "--clip", paramLabel = "NAME", description = "A clip folder name under image_folder_name/ (repeatable).")
    List<String> clips = new ArrayList<>();

    @Option(names = "--metadata", paramLabel = "FILE", description = "Generate every clip this metadata file (make-metadata's output) lists.")
    String metadata;

    @Option(names = "--output", required = true, paramLabel = "OUT", description = "Output folder (local, s3a://).")
    String output;

    @Mixin
    CommonOptions common;

    @Override
    public Integer call() throws Exception {
        AppConfig config = common.loadConfig();
        SparkSession spark = SparkSetup.session("avatar-train generate", common.master);
        try {
            GenerateJob.run(spark, config, new GenerateJob.Options(weights, clips, metadata, output));
        } finally {
            spark.stop();
        }
        return Main.EXIT_OK;
    }
}
