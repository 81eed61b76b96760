package dev.avatartrain.cli;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.avatartrain.config.AppConfig;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;

/** Options every job takes: the configuration set, overrides and the Spark master. */
public final class CommonOptions {
    private static final Logger LOG = LoggerFactory.getLogger(CommonOptions.class);
    @Option(names = "--config-dir", paramLabel = "DIR",
            description = "Folder with data.yaml, train.yaml, model.yaml, optimizer.yaml: local, bundled in the jar (configuration/demo)"
                    + " or a storage URL such as s3a://bucket/conf (default: configuration/global).")
    public String configDir;

    @Option(names = "--set", paramLabel = "SECTION.KEY=VALUE",
            description = "Override one configuration value, e.g. --set train.train_batch_size=4 (repeatable).")
    public List<String> overrides = new ArrayList<>();

    @Option(names = "--master", paramLabel = "URL",
            description = "Spark master (default: local[*]; spark-submit's --master wins).")
    public String master;

    /** Loads and validates the configuration, and prints it. */
    public AppConfig loadConfig() {
        AppConfig config = AppConfig.loadFrom(configDir, overrides);
        LOG.info("Effective configuration (sha256 " + config.hash().substring(0, 12) + "):\n" + config.toYaml().indent(2).stripTrailing());
        return config;
    }

    /** Saves the effective configuration beside a job's outputs: {@code target} is a file URL (local, s3a://). */
    public static void saveConfig(AppConfig config, String target, org.apache.hadoop.conf.Configuration hadoop) throws java.io.IOException {
        byte[] text = ("# Effective configuration (sha256 " + config.hash() + ")\n" + config.toYaml()).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        try (dev.avatartrain.storage.Storage s = dev.avatartrain.storage.Storage.forUrl(target, hadoop)) {
            s.write("", o -> o.write(text));
        }
    }
}
