package dev.avatartrain.cli;

import java.util.concurrent.Callable;

import org.apache.spark.sql.SparkSession;

import dev.avatartrain.config.AppConfig;
import dev.avatartrain.jobs.SparkSetup;
import dev.avatartrain.jobs.TrainJob;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Train the lip-sync UNet on the latent cache (run `encode` first) with parameter averaging on Spark.",
                "Progress per round; metrics.jsonl/.csv, loss.png, validation/ grids and checkpoints/ under output_dir.",
                "Resume with --set model.resume_from_checkpoint=latest (or a checkpoint folder)."})
final class TrainCommand implements Callable<Integer> {
    @Option(names = "--until-step", paramLabel = "STEP", defaultValue = "0",
            description = "Stop after this optimizer step (checkpoint written) though the schedule runs to max_train_steps;"
                    + " resume later with resume_from_checkpoint=latest. 0: train to the end.")
    long untilStep;

    @Option(names = "--overwrite", description = "Start a new run although output_dir holds another run's checkpoints: they, and that run's"
            + " metrics, plots and validation grids, are moved aside into output_dir/previous-runs/<time>/ (never deleted).")
    boolean overwrite;

    @Mixin
    CommonOptions common;

    @Override
    public Integer call() throws Exception {
        AppConfig config = common.loadConfig();
        StopOnSignal.install(Main.resumeCommand("model.resume_from_checkpoint=latest"));
        SparkSession spark = SparkSetup.session("avatar-train train", common.master);
        try {
            TrainJob.run(spark, config, untilStep, overwrite);
        } finally {
            spark.stop();
        }
        return Main.EXIT_OK;
    }
}
