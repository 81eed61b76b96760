package dev.avatartrain.config;

import java.io.Serializable;
import java.util.Map;

/** {@code train.yaml}: batch sizes, steps, validation and checkpoint cadence, audio context, distribution. */
public record TrainConfig(int gradientAccumulationSteps, String mixedPrecision, boolean wandbEnabled,
                          boolean gradientCheckpointing, int maxTrainSteps, int validationSteps,
                          int checkpointsTotalLimit, int trainBatchSize, int audioLengthLeft, int audioLengthRight,
                          long seed, int averagingFrequency, int checkpointingSteps, int numWorkers, String loss,
                          double validationFraction, int dashboardPort, String dashboardBind, String dashboardToken,
                          String audioPositionalEncoding, int referenceMinDistance) implements Serializable {

    static TrainConfig from(Map<String, Object> v) {
        return new TrainConfig((Integer) v.get("gradient_accumulation_steps"), (String) v.get("mixed_precision"),
                (Boolean) v.get("wandb_enabled"), (Boolean) v.get("gradient_checkpointing"),
                (Integer) v.get("max_train_steps"), (Integer) v.get("validation_steps"),
                (Integer) v.get("checkpoints_total_limit"), (Integer) v.get("train_batch_size"),
                (Integer) v.get("audio_length_left"), (Integer) v.get("audio_length_right"), (Long) v.get("seed"),
                (Integer) v.get("averaging_frequency"), (Integer) v.get("checkpointing_steps"),
                (Integer) v.get("num_workers"), (String) v.get("loss"), (Double) v.get("validation_fraction"),
                (Integer) v.get("dashboard_port"), (String) v.get("dashboard_bind"), (String) v.get("dashboard_token"),
                (String) v.get("audio_positional_encoding"), (Integer) v.get("reference_min_distance"));
    }

    /** Audio frames in one target frame's cross-attention window. */
    public int audioWindowFrames() {
        return audioLengthLeft + 1 + audioLengthRight;
    }
}
