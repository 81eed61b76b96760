package dev.avatartrain.cli;

import dev.avatartrain.config.AppConfig;
import dev.avatartrain.jobs.MakeMetadataJob;
import dev.avatartrain.jobs.SparkSetup;
import org.apache.spark.sql.SparkSession;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.concurrent.Callable;

@Command(name = "make-metadata", mixinStandardHelpOptions = true,
        description = {"Scan a frame tree into metadata, or convert the original metadata.json.",
                "The tree: ROOT/aligned-frames/<clip>/<frame>.png and ROOT/audio/<clip>/<frame>.npy.",
                " OUT: *.json (original format), *.npz (docs/metadata.md) or a Parquet directory.",
                "A summary is printed and written to OUT.summary.json."})
public final class MakeMetadataCommand implements Callable<Integer> {
    @Option(names = "--mode", defaultValue = "scan", paramLabel = "scan|json",
            description = "scan: list the frame tree INPUT; json: convert the metadata file INPUT (default: ${DEFAULT-VALUE}).")
    MakeMetadataJob.Mode mode;

    @Option(names = "--input", required = true, paramLabel = "INPUT",
            description = "Frame tree root or its image folder (scan), or a metadata file (json); local, any Hadoop FileSystem URL (s3a://, hdfs://, gs://, ...) or https://.")
    String input;

    @Option(names = "--output", required = true, paramLabel = "OUT", description = "Output: *.json, *.npz or a Parquet directory.")
    String output;

    @Option(names = "--incremental", paramLabel = "PREVIOUS",
            description = "Keep clips of this previous output and list only new (or, on local disk, changed) clip folders.")
    String incremental;

    @Option(names = "--recheck-all", description = "With --incremental: list every clip again.")
    boolean recheckAll;

    @Option(names = "--strict", description = "Fail (exit 2, nothing written but the summary) on empty or unreadable clips and unpaired frames.")
    boolean strict;

    @Mixin
    CommonOptions common;

    @Override
    public Integer call() throws Exception {
        AppConfig config = common.loadConfig();
        SparkSession spark = SparkSetup.session("avatar-train make-metadata", common.master);
        try {
            MakeMetadataJob.run(spark, new MakeMetadataJob.Options(mode, input, output, incremental, recheckAll, strict,
                    config.data().imageFolderName(), config.data().audioFolderName()));
            // beside OUT like OUT.summary.json (OUT's folder may hold other jobs' effective-config.yaml)
            CommonOptions.saveConfig(config, output.replaceAll("/+$", "") + "." + AppConfig.EFFECTIVE_CONFIG_FILE,
                    spark.sparkContext().hadoopConfiguration());
        } finally {
            spark.stop();
        }
        return Main.EXIT_OK;
    }
}
