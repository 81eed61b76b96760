package dev.avatartrain.cli;

import java.util.concurrent.Callable;

import org.apache.spark.sql.SparkSession;

import dev.avatartrain.config.AppConfig;
import dev.avatartrain.jobs.EncodeJob;
import dev.avatartrain.jobs.SparkSetup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(name = "encode", mixinStandardHelpOptions = true,
        description = {"Encode every clip's frames with the frozen TAESD encoder into the latent cache.",
                "Each frame is encoded as is and with its lower half masked, into output_dir/latents/<vae>-<size>px/,",
                "with its audio features. Incremental: clips already encoded from the same frames, weights and size",
                "are skipped.",
                "Bad frames are skipped and listed."})
final class EncodeCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Override
    public Integer call() throws Exception {
        AppConfig config = common.loadConfig();
        SparkSession spark = SparkSetup.session("avatar-train encode", common.master);
        try {
            EncodeJob.run(spark, config);
        } finally {
            spark.stop();
        }
        return Main.EXIT_OK;
    }
}
