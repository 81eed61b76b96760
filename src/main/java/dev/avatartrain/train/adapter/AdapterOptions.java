package dev.avatartrain.train.adapter;

import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

import dev.avatartrain.config.ProjectPaths;
import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.models.adapter.AudioProjConfig;

/**
 * The options of {@code train-adapter}: {@code configuration/adapter/train_adapter.yaml} (every key with its default
 * and meaning), then the command line on top. Unknown keys and wrong types are errors naming the file and key.
 */
public record AdapterOptions(Map<String, Object> values, String source) implements Serializable {
    public static final String DEFAULT_FILE = "configuration/adapter/train_adapter.yaml";

    /** Reads {@code file} (null: the default file) over the defaults, then applies {@code overrides} (key → value). */
    public static AdapterOptions load(Path file, Map<String, Object> overrides) {
        Map<String, Object> defaults = read(ProjectPaths.resolve(DEFAULT_FILE));
        Map<String, Object> values = new LinkedHashMap<>(defaults);
        String source = DEFAULT_FILE;
        if (file != null) {
            source = file.toString();
            for (Map.Entry<String, Object> e : read(file).entrySet()) set(values, defaults, e.getKey(), e.getValue(), source);
        }
        for (Map.Entry<String, Object> e : overrides.entrySet()) set(values, defaults, e.getKey(), e.getValue(), "the command line");
        AdapterOptions o = new AdapterOptions(values, source);
        o.model(); // validates window, scale and sizes now
        if (o.string("manifest").isBlank()) {
            throw new BadInputException(source + ": no manifest (give --manifest or the key \"manifest\")");
        }
        return o;
    }

    private static Map<String, Object> read(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            Object y = new Yaml(new SafeConstructor(new LoaderOptions())).load(in);
            if (y == null) return Map.of();
            if (!(y instanceof Map<?, ?> m)) throw new BadInputException(file + ": expected a mapping of keys to values");
            Map<String, Object> out = new LinkedHashMap<>();
            m.forEach((k, v) -> out.put(String.valueOf(k), v));
            return out;
        } catch (IOException e) {
            throw new BadInputException(file + ": cannot read: " + e.getMessage(), e);
        } catch (org.yaml.snakeyaml.error.YAMLException e) {
            throw new BadInputException(file + ": not valid YAML: " + e.getMessage(), e);
        }
    }

    private static void set(Map<String, Object> values, Map<String, Object> defaults, String key, Object value, String source) {
        if (!defaults.containsKey(key)) {
            throw new BadInputException(source + ": unknown key \"" + key + "\". Known keys (" + DEFAULT_FILE + "):\n  "
                    + String.join(", ", defaults.keySet()) + ".");
        }
        Object d = defaults.get(key);
        Object v = value;
        try {
            if (d instanceof Integer) v = value instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue()) ? n.intValue() : Integer.parseInt(String.valueOf(value));
            else if (d instanceof Double) v = value instanceof Number n ? n.doubleValue() : Double.parseDouble(String.valueOf(value));
            else if (d instanceof Boolean) {
                String s = String.valueOf(value);
                if (!s.equals("true") && !s.equals("false")) throw new NumberFormatException(s);
                v = Boolean.parseBoolean(s);
            } else v = value == null ? "" : String.valueOf(value);
        } catch (NumberFormatException e) {
            throw new BadInputException(source + ": \"" + key + "\" is " + value + "; expected " + d.getClass().getSimpleName().toLowerCase()
                    + " like the default " + d);
        }
        values.put(key, v);
    }

    public String string(String key) {
        return String.valueOf(values.get(key));
    }

    public int integer(String key) {
        return (Integer) values.get(key);
    }

    public double real(String key) {
        return (Double) values.get(key);
    }

    public boolean flag(String key) {
        return (Boolean) values.get(key);
    }

    public AudioProjConfig model() {
        return new AudioProjConfig(integer("audio_window"), integer("vae_scale"), integer("blocks"), integer("channels"),
                integer("intermediate_dim"), integer("context_tokens"), integer("output_dim"), flag("norm_output_audio"));
    }

    /** The engine's configuration ({@code configuration/global} files) with this run's values set. */
    public List<String> engineOverrides(int maxTrainSteps, int validationSteps) {
        return List.of("data.output_dir=" + string("output_dir"), "train.train_batch_size=" + integer("batch_size"),
                "train.gradient_accumulation_steps=" + integer("gradient_accumulation_steps"), "train.max_train_steps=" + maxTrainSteps,
                "train.validation_steps=" + validationSteps, "train.seed=" + integer("seed"), "train.num_workers=" + integer("num_workers"),
                "train.averaging_frequency=" + integer("averaging_frequency"), "train.checkpointing_steps=" + integer("checkpointing_steps"),
                "train.checkpoints_total_limit=" + integer("checkpoints_total_limit"), "train.loss=mse",
                "train.validation_fraction=" + real("validation_fraction"), "train.mixed_precision=" + (flag("mixed_precision") ? "fp16" : "\"no\""),
                "train.gradient_checkpointing=false",
                "optimizer.learning_rate=" + real("lr"), "optimizer.lr_scheduler=" + string("lr_scheduler"),
                "optimizer.lr_warmup_steps=" + integer("lr_warmup_steps"), "optimizer.adam_weight_decay=" + real("weight_decay"),
                "optimizer.max_grad_norm=" + real("max_grad_norm"), "model.resume_from_checkpoint=" + string("resume_from_checkpoint"),
                "train.dashboard_port=" + integer("dashboard_port"));
    }
}
