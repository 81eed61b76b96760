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
        return loadFrom(configDir == null ? null : configDir.toString(), overrides);
    }

    /** As {@link #load(Path, List)}; {@code configDir} may also be a folder bundled in the jar or a storage URL. */
    public static AppConfig loadFrom(String configDir, List<String> overrides) {
        return new ConfigLoader().load(configDir, overrides);
    }

    /**
     * One section's own file checked against {@link ConfigSchema} like the global files (e.g. {@code train-adapter}'s
     * {@link ConfigSchema#ADAPTER_FILE}): {@code file}, or when null {@code defaultFile} from the checkout or the jar,
     * then {@code overrides} ({@code section.key=value}, values parsed as YAML), then {@code options} (key → value of a
     * command-line option, taken literally). Returns every key of the section with its typed value.
     */
    public static Map<String, Object> loadSection(String section, Path file, String defaultFile, List<String> overrides,
                                                  Map<String, Object> options) {
        return new ConfigLoader().loadSection(section, file, defaultFile, overrides, options);
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
        return sha256(toYaml());
    }

    /**
     * What a resumed run must share with the run it resumes: the first 16 hex digits of the SHA-256 of {@link
     * #toYaml()} without its {@code resume_from_checkpoint} line.
     */
    public String trainingHash() {
        String yaml = toYaml().lines().filter(l -> !l.strip().startsWith("resume_from_checkpoint:"))
                .collect(java.util.stream.Collectors.joining("\n"));
        return sha256(yaml).substring(0, 16);
    }

    private static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
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
