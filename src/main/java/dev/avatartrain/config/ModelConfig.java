package dev.avatartrain.config;

import java.io.Serializable;
import java.util.Map;

/** {@code model.yaml}: the UNet's architecture file, the frozen autoencoder's weights, released UNet weights to fine-tune, resumption. */
public record ModelConfig(String unetConfigFile, String vaePretrainedModelNameOrPath, String resumeFromCheckpoint,
                          String unetPretrainedModelNameOrPath)
        implements Serializable {

    static ModelConfig from(Map<String, Object> v) {
        return new ModelConfig((String) v.get("unet_config_file"), (String) v.get("vae_pretrained_model_name_or_path"),
                (String) v.get("resume_from_checkpoint"), (String) v.get("unet_pretrained_model_name_or_path"));
    }
}
