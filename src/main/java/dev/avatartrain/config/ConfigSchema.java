package dev.avatartrain.config;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.avatartrain.config.ConfigKey.Type.*;

/**
 * Every configuration key, its default and meaning. The first keys of each file are the seed project's,
 * with its defaults; keys added since have defaults that keep the seed's files valid.
 */
public final class ConfigSchema {
    public static final List<String> SECTIONS = List.of("data", "train", "model", "optimizer");
    /** The section of {@code train-adapter}'s own file, {@link #ADAPTER_FILE} (not one of the global files). */
    public static final String ADAPTER = "adapter";
    public static final String ADAPTER_FILE = "configuration/adapter/train_adapter.yaml";
    private static final double INF = Double.POSITIVE_INFINITY;

    private static final List<ConfigKey> KEYS = new ArrayList<>();

    static {
        // data.yaml
        str("data", "s3_data_base_url", "https://digital-human-llm.s3.ap-southeast-2.amazonaws.com/dev/train-data/",
                "Remote base of the frame tree: an HTTPS URL of a public bucket, s3a://bucket/prefix or any Hadoop FileSystem URL (hdfs://, gs://, abfs://, ...). Read when a file is not under local_data_base_url.");
        str("data", "local_data_base_url", "data/train-data/",
                "Local base of the frame tree (holds image_folder_name/ and audio_folder_name/). Read first.");
        str("data", "metadata_url", "data/train-data/metadata.json",
                "Clip metadata written by make-metadata (.json, .npz or a Parquet directory): local path, any Hadoop FileSystem URL or HTTPS.");
        str("data", "output_dir", "output", "Where jobs write latents, checkpoints, metrics, plots and exports.");
        str("data", "image_folder_name", "aligned-frames", "Folder of per-clip aligned PNG frames under the data base URL.");
        str("data", "audio_folder_name", "audio", "Folder of per-clip per-frame .npy audio features under the data base URL.");
        integer("data", "IMAGE_SIZE", 256, 8, 4096, "Frames are resized to IMAGE_SIZE x IMAGE_SIZE pixels (a multiple of 8) before encoding.");

        // train.yaml
        integer("train", "gradient_accumulation_steps", 512, 1, INF, "Micro-batches summed into one optimizer step.");
        choice("train", "mixed_precision", "fp16", List.of("no", "fp16", "bf16"),
                "Reduced-precision training where the backend supports it (see README: what each value does on CPU and GPU).");
        bool("train", "wandb_enabled", true, "Stream the run live to W&B (config, metrics, validation images, final"
                + " checkpoint) through a Python sidecar on the driver that needs the wandb package (README, 'Weights &"
                + " Biases'); without it, one line says what to install and training goes on.");
        bool("train", "gradient_checkpointing", true, "Each UNet ResNet and transformer block keeps only its inputs and is recomputed in the backward pass (diffusers' enable_gradient_checkpointing): less memory, about a third more compute.");
        integer("train", "max_train_steps", 5000, 1, INF, "Optimizer steps to train for.");
        integer("train", "dashboard_port", 4050, 0, 65535, "Port of the live training dashboard the driver serves (0 = off).");
        str("train", "dashboard_bind", "", "Address the dashboard listens on: empty = the driver's address (spark.driver.host) only; 0.0.0.0 = every interface.");
        str("train", "dashboard_token", "", "When set, the dashboard answers only requests carrying it (?token=... or Authorization: Bearer ...); shown as <set> in logs.");
        integer("train", "validation_steps", 100, 1, INF, "Validate every this many optimizer steps.");
        integer("train", "checkpoints_total_limit", 1000, 1, INF, "Keep at most this many checkpoints (the newest).");
        integer("train", "train_batch_size", 12, 1, INF, "Samples per micro-batch on each worker.");
        integer("train", "audio_length_left", 2, 0, INF, "Audio frames before the target frame in the cross-attention sequence.");
        integer("train", "audio_length_right", 2, 0, INF, "Audio frames after the target frame in the cross-attention sequence.");
        longInt("train", "seed", 42, "Seed for initialisation, reference-frame choice and sampling (per round and partition).");
        integer("train", "averaging_frequency", 1, 1, INF, "Optimizer steps each worker takes between two parameter averages.");
        integer("train", "checkpointing_steps", 500, 1, INF, "Write a checkpoint every this many optimizer steps (and at the end).");
        integer("train", "num_workers", 0, 0, INF, "Data-parallel workers (Spark partitions of whole clips); 0 = one per executor.");
        choice("train", "loss", "l1", List.of("l1", "mse"), "Loss on predicted latents.");
        number("train", "validation_fraction", 0.1, 0.0, 0.5, "Share of clips held out for validation (split by clip, never by frame).");
        choice("train", "audio_positional_encoding", "none", List.of("none", "musetalk"),
                "Added to the audio sequence before the UNet's cross-attention: none, or MuseTalk's sinusoidal PositionalEncoding (same in train, validation, forward, generate).");
        integer("train", "reference_min_distance", 5, 0, INF,
                "A reference frame is at least this many frames from its target where the clip allows (MuseTalk draws |ref - target| >= 5).");

        // model.yaml
        optStr("model", "unet_config_file", "configuration/unet/config.json",
                "diffusers UNet2DConditionModel config JSON of the lip-sync UNet (it must agree with the config of unet_pretrained_model_name_or_path's folder); null: that folder's config, else configuration/unet/config.json.");
        str("model", "vae_pretrained_model_name_or_path", "madebyollin/taesd",
                "TAESD weights: a folder or file (.pth / diffusers safetensors), local or s3a. A hub name that is not found locally means a seeded random TAESD (logged).");
        optStr("model", "unet_pretrained_model_name_or_path", null,
                "Released UNet weights to start from (fresh optimizer, step 0): a weights file, a diffusers or MuseTalk folder, a storage URL or a Hugging Face id[/subfolder]; null starts from random weights.");
        optStr("model", "resume_from_checkpoint", null, "Checkpoint folder to resume from, or 'latest' (newest under output_dir); null starts fresh.");

        // optimizer.yaml
        number("optimizer", "learning_rate", 5e-5, 0.0, INF, "Peak learning rate.");
        bool("optimizer", "scale_lr", false, "Multiply the learning rate by train_batch_size x gradient_accumulation_steps x workers.");
        choice("optimizer", "lr_scheduler", "cosine",
                List.of("constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts", "polynomial"),
                "Learning-rate schedule over max_train_steps (diffusers' get_scheduler formulas).");
        integer("optimizer", "lr_warmup_steps", 0, 0, INF, "Linear warm-up steps at the start of the schedule.");
        number("optimizer", "adam_beta1", 0.9, 0.0, 1.0, "AdamW beta1.");
        number("optimizer", "adam_beta2", 0.999, 0.0, 1.0, "AdamW beta2.");
        number("optimizer", "adam_weight_decay", 1e-2, 0.0, INF, "AdamW decoupled weight decay.");
        number("optimizer", "adam_epsilon", 1e-8, 0.0, INF, "AdamW epsilon.");
        number("optimizer", "max_grad_norm", 1.0, 0.0, INF, "Clip the global gradient norm (all parameters together) to this; 0 disables.");
        integer("optimizer", "lr_num_cycles", 1, 1, INF, "Hard restarts of cosine_with_restarts.");
        number("optimizer", "lr_power", 1.0, 0.0, INF, "Power of the polynomial schedule.");

        // configuration/adapter/train_adapter.yaml (train-adapter; the engine keys mean what they mean above)
        str(ADAPTER, "manifest", "", "JSON list of {audio, target, weight}: local, s3a:// or https://. Required.");
        str(ADAPTER, "output_dir", "output/adapter", "Checkpoints, metrics and adapter.safetensors.");
        integer(ADAPTER, "batch_size", 2, 1, INF, "Clips per micro-batch per worker.");
        integer(ADAPTER, "epochs", 5, 1, INF, "Passes over the training clips (sets the number of optimizer steps).");
        number(ADAPTER, "lr", 1e-4, 0.0, INF, "Learning rate.");
        bool(ADAPTER, "mixed_precision", false, "Accepted; training computes in float32, the export is fp16 when true.");
        integer(ADAPTER, "audio_window", 5, 1, INF, "Odd: frames of audio around each video frame.");
        integer(ADAPTER, "vae_scale", 4, 2, INF, "Video frames per latent frame after the first.");
        str(ADAPTER, "init_weights", "", "Released weights to start from (.safetensors or .pt, with or without audio_proj.); empty: random.");
        integer(ADAPTER, "blocks", 12, 1, INF, "Audio-encoder layers per frame.");
        integer(ADAPTER, "channels", 768, 1, INF, "Hidden size of each audio-encoder layer.");
        integer(ADAPTER, "intermediate_dim", 512, 1, INF, "Width of proj1, proj1_vf and proj2.");
        integer(ADAPTER, "context_tokens", 32, 1, INF, "Tokens per output frame.");
        integer(ADAPTER, "output_dim", 768, 1, INF, "Width of each token.");
        bool(ADAPTER, "norm_output_audio", true, "Whether a LayerNorm follows proj3.");
        integer(ADAPTER, "gradient_accumulation_steps", 1, 1, INF, "Micro-batches summed into one optimizer step.");
        choice(ADAPTER, "lr_scheduler", "constant",
                List.of("constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts", "polynomial"),
                "Learning-rate schedule over the run.");
        integer(ADAPTER, "lr_warmup_steps", 0, 0, INF, "Linear warm-up steps.");
        number(ADAPTER, "weight_decay", 1e-2, 0.0, INF, "AdamW decoupled weight decay.");
        number(ADAPTER, "max_grad_norm", 1.0, 0.0, INF, "Clip the global gradient norm to this; 0 disables.");
        integer(ADAPTER, "seed", 42, -INF, INF, "Seed for initialisation, the validation split and sampling.");
        integer(ADAPTER, "num_workers", 0, 0, INF, "Data-parallel workers; 0 = one per executor.");
        integer(ADAPTER, "averaging_frequency", 1, 1, INF, "Optimizer steps each worker takes between two averages.");
        number(ADAPTER, "validation_fraction", 0.1, 0.0, 0.5, "Share of clips held out for validation.");
        integer(ADAPTER, "validation_every", 0, 0, INF, "Optimizer steps between validations; 0: about 5 per run.");
        integer(ADAPTER, "checkpointing_steps", 500, 1, INF, "Write a checkpoint every this many optimizer steps (and at the end).");
        integer(ADAPTER, "checkpoints_total_limit", 3, 1, INF, "Keep at most this many checkpoints.");
        str(ADAPTER, "resume_from_checkpoint", "", "A checkpoint folder, or 'latest'; empty starts fresh.");
        integer(ADAPTER, "dashboard_port", 4050, 0, 65535, "Port of the live training dashboard the driver serves (0 = off).");
    }

    private ConfigSchema() {}

    public static List<ConfigKey> keys() {
        return Collections.unmodifiableList(KEYS);
    }

    /** Keys of one section ({@link #SECTIONS} or {@link #ADAPTER}), in file order. */
    public static Map<String, ConfigKey> section(String section) {
        Map<String, ConfigKey> out = new LinkedHashMap<>();
        for (ConfigKey k : KEYS) if (k.section().equals(section)) out.put(k.name(), k);
        return out;
    }

    private static void add(String section, String name, ConfigKey.Type type, Object def, double min, double max,
                            List<String> choices, String description) {
        KEYS.add(new ConfigKey(section, name, type, def, min, max, choices, description));
    }

    private static void str(String s, String n, String def, String d) {
        add(s, n, STRING, def, -INF, INF, List.of(), d);
    }

    private static void optStr(String s, String n, String def, String d) {
        add(s, n, OPTIONAL_STRING, def, -INF, INF, List.of(), d);
    }

    private static void integer(String s, String n, int def, double min, double max, String d) {
        add(s, n, INT, def, min, max, List.of(), d);
    }

    private static void longInt(String s, String n, long def, String d) {
        add(s, n, LONG, def, -INF, INF, List.of(), d);
    }

    private static void number(String s, String n, double def, double min, double max, String d) {
        add(s, n, DOUBLE, def, min, max, List.of(), d);
    }

    private static void bool(String s, String n, boolean def, String d) {
        add(s, n, BOOL, def, -INF, INF, List.of(), d);
    }

    private static void choice(String s, String n, String def, List<String> choices, String d) {
        add(s, n, CHOICE, def, -INF, INF, choices, d);
    }
}
