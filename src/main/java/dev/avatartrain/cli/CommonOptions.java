package dev.avatartrain.cli;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.avatartrain.config.AppConfig;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Options every job takes: the configuration set, overrides and the Spark master. */
public final class CommonOptions {
    private static final Logger LOG = LoggerFactory.getLogger(CommonOptions.class);
    @Option(names = "--config-dir", paramLabel = "DIR",
            description = "Folder with data.yaml, train.yaml, model.yaml, optimizer.yaml (default: configuration/global).")
    public Path configDir;

    @Option(names = "--set", paramLabel = "SECTION.KEY=VALUE",
            description = "Override one configuration value, e.g. --set train.train_batch_size=4 (repeatable).")
    public List<String> overrides = new ArrayList<>();

    @Option(names = "--master", paramLabel = "URL",
            description = "Spark master (default: local[*]; spark-submit's --master wins).")
    public String master;

    /** Loads and validates the configuration, and prints it. */
    public AppConfig loadConfig() {
        AppConfig config = AppConfig.load(configDir, overrides);
        LOG.info("Effective configuration (sha256 " + config.hash().substring(0, 12) + "):\n" + config.toYaml().indent(2).stripTrailing());
        return config;
    }
}
