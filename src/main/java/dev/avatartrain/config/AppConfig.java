package dev.avatartrain.config;

import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.Yaml;

import java.io.IOException;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.avatartrain.storage.AtomicFiles;

/**
 * The effective configuration of a job: the four seed files after defaults and overrides.
 * Load it with {@link #load(Path, List)}; {@link #toYaml()} is what was used, {@link #hash()} identifies it.
 */
public record AppConfig(DataConfig data, TrainConfig train, ModelConfig model, OptimizerConfig optimizer,
                        Map<String, Map<String, Object>> values) implements Serializable {

    public static final String EFFECTIVE_CONFIG_FILE = "effective-config.yaml";

    /**
     * Loads {@code data.yaml}, {@code train.yaml}, {@code model.yaml} and {@code optimizer.yaml} from
     * {@code configDir} (null: the default {@code configuration/global}) and applies {@code overrides}
     * ({@code section.key=value}).
     *
     * @throws dev.avatartrain.errors.BadInputException listing every problem found, each naming file and key
     */
    public static AppConfig load(Path configDir, List<String> overrides) {
        return new ConfigLoader().load(configDir, overrides);
    }

    /** All defaults, as if every file were empty. */
    public static AppConfig defaults() {
        return new ConfigLoader().fromValues(ConfigLoader.defaultValues());
    }

    /** The effective configuration as YAML, one document with a mapping per file. */
    public String toYaml() {
        DumperOptions opts = new DumperOptions();
        opts.setDefaultFlowStyle(DumperOptions.FlowStyle.BLOCK);
        opts.setSplitLines(false);
        Map<String, Map<String, Object>> shown = new LinkedHashMap<>(values);
        if (values.get("train") != null && values.get("train").get("dashboard_token") instanceof String tok && !tok.isEmpty()) {
            Map<String, Object> train = new LinkedHashMap<>(values.get("train"));
            train.put("dashboard_token", REDACTED); // a secret: never in logs, event files or hashes
            shown.put("train", train);
        }
        return new Yaml(opts).dump(shown);
    }

    /** How {@link #toYaml()} shows a secret value that is set. */
    public static final String REDACTED = "<set>";

    /** SHA-256 of {@link #toYaml()}, recorded in checkpoints and caches. */
    public String hash() {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(toYaml().getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(digest);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Writes {@value #EFFECTIVE_CONFIG_FILE} into {@code dir}, atomically. */
    public Path save(Path dir) throws IOException {
        Path target = dir.resolve(EFFECTIVE_CONFIG_FILE);
        AtomicFiles.writeString(target, "# Effective configuration (sha256 " + hash() + ")\n" + toYaml());
        return target;
    }
}
