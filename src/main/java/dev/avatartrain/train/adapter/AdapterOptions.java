package dev.avatartrain.train.adapter;

import java.io.Serializable;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.avatartrain.config.AppConfig;
import dev.avatartrain.config.ConfigSchema;
import dev.avatartrain.config.ConfigFiles;
import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.models.adapter.AudioProjConfig;

/**
 * The options of {@code train-adapter}, typed: {@code configuration/adapter/train_adapter.yaml} (or another file with
 * its keys), then overrides, read and checked by the configuration loader against the {@code adapter} section of
 * {@link ConfigSchema} (each key's type, range and meaning are there). Unknown keys, wrong types and out-of-range
 * values are errors naming the file (or override) and the key.
 */
public record AdapterOptions(String manifest, String outputDir, int batchSize, int epochs, double lr,
                             boolean mixedPrecision, String initWeights, AudioProjConfig model,
                             int gradientAccumulationSteps, String lrScheduler, int lrWarmupSteps, double weightDecay,
                             double maxGradNorm, int seed, int numWorkers, int averagingFrequency,
                             double validationFraction, int validationEvery, int checkpointingSteps,
                             int checkpointsTotalLimit, String resumeFromCheckpoint, int dashboardPort, Map<String, Object> values)
        implements Serializable {
    public static final String DEFAULT_FILE = ConfigSchema.ADAPTER_FILE;

    /**
     * Reads {@code file} (null: the default file) over the schema's defaults, then applies {@code set} ({@code KEY=VALUE}
     * or {@code adapter.KEY=VALUE} as {@code --set} gives them, values parsed as YAML), then {@code options} (key →
     * value of a command-line option such as {@code --manifest}, taken literally).
     */
    public static AdapterOptions loadFrom(String file, List<String> set, Map<String, Object> options) {
        // local, bundled in the jar or a storage URL (ConfigFiles): read through a local copy
        return load(file == null ? null : ConfigFiles.localFile(file, "--adapter-config"), set, options);
    }

    /** As {@link #loadFrom(String, List, Map)} for a local file (null: the default file). */
    public static AdapterOptions load(Path file, List<String> set, Map<String, Object> options) {
        List<String> overrides = new ArrayList<>();
        for (String kv : set) overrides.add(kv.startsWith(ConfigSchema.ADAPTER + ".") ? kv : ConfigSchema.ADAPTER + "." + kv);
        Map<String, Object> v = AppConfig.loadSection(ConfigSchema.ADAPTER, file, DEFAULT_FILE, overrides, options);
        String source = file != null ? file.toString() : DEFAULT_FILE;
        AudioProjConfig model;
        try {
            model = new AudioProjConfig((Integer) v.get("audio_window"), (Integer) v.get("vae_scale"),
                    (Integer) v.get("blocks"), (Integer) v.get("channels"), (Integer) v.get("intermediate_dim"),
                    (Integer) v.get("context_tokens"), (Integer) v.get("output_dim"), (Boolean) v.get("norm_output_audio"));
        } catch (BadInputException e) {
            throw new BadInputException(source + ": " + e.getMessage(), e);
        }
        AdapterOptions o = new AdapterOptions((String) v.get("manifest"), (String) v.get("output_dir"),
                (Integer) v.get("batch_size"), (Integer) v.get("epochs"), (Double) v.get("lr"),
                (Boolean) v.get("mixed_precision"), (String) v.get("init_weights"), model,
                (Integer) v.get("gradient_accumulation_steps"), (String) v.get("lr_scheduler"),
                (Integer) v.get("lr_warmup_steps"), (Double) v.get("weight_decay"), (Double) v.get("max_grad_norm"),
                (Integer) v.get("seed"), (Integer) v.get("num_workers"), (Integer) v.get("averaging_frequency"),
                (Double) v.get("validation_fraction"), (Integer) v.get("validation_every"),
                (Integer) v.get("checkpointing_steps"), (Integer) v.get("checkpoints_total_limit"),
                (String) v.get("resume_from_checkpoint"), (Integer) v.get("dashboard_port"), Collections.unmodifiableMap(new LinkedHashMap<>(v)));
        if (o.manifest().isBlank()) {
            throw new BadInputException(source + ": no manifest (give --manifest or the key \"manifest\")");
        }
        return o;
    }

    /** The engine's configuration ({@code configuration/global} files) with this run's values set. */
    public List<String> engineOverrides(int maxTrainSteps, int validationSteps) {
        return List.of("data.output_dir=" + outputDir, "train.train_batch_size=" + batchSize,
                "train.gradient_accumulation_steps=" + gradientAccumulationSteps, "train.max_train_steps=" + maxTrainSteps,
                "train.validation_steps=" + validationSteps, "train.seed=" + seed, "train.num_workers=" + numWorkers,
                "train.averaging_frequency=" + averagingFrequency, "train.checkpointing_steps=" + checkpointingSteps,
                "train.checkpoints_total_limit=" + checkpointsTotalLimit, "train.loss=mse",
                "train.validation_fraction=" + validationFraction, "train.mixed_precision=" + (mixedPrecision ? "fp16" : "\"no\""),
                "train.gradient_checkpointing=false",
                "optimizer.learning_rate=" + lr, "optimizer.lr_scheduler=" + lrScheduler,
                "optimizer.lr_warmup_steps=" + lrWarmupSteps, "optimizer.adam_weight_decay=" + weightDecay,
                "optimizer.max_grad_norm=" + maxGradNorm, "model.resume_from_checkpoint=" + resumeFromCheckpoint,
                "train.dashboard_port=" + dashboardPort);
    }
}
