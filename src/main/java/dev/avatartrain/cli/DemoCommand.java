package dev.avatartrain.cli;

import dev.avatartrain.jobs.DemoJob;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.util.concurrent.Callable;

@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Run the pipeline end to end on generated sample data and local Spark, with the tiny configuration in configuration/demo (data under its local_data_base_url, outputs under its output_dir).")
final class DemoCommand implements Callable<Integer> {
    @Mixin
    CommonOptions common;

    @Override
    public Integer call() throws Exception {
        if (common.configDir == null) common.configDir = DemoJob.demoConfigDir().toString();
        DemoJob.run(common.loadConfig(), common.master);
        return Main.EXIT_OK;
    }
}
