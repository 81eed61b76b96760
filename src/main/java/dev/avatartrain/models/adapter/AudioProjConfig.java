package dev.avatartrain.models.adapter;

import java.util.Iterator;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.avatartrain.config.ConfigSchema;
import dev.avatartrain.errors.BadInputException;

/**
 * The shape of InfiniteTalk's {@code AudioProjModel} and of its windowing. Each key's type and range are those of the
 * adapter section of {@link ConfigSchema} (the same keys as {@code train_adapter.yaml}); the rules across keys are here.
 *
 * @param audioWindow     frames in the audio window centred on each video frame ({@code audio_window}); odd
 * @param vaeScale        video frames per latent frame after the first ({@code vae_scale}); at least 2
 * @param blocks          audio-encoder layers per frame ({@code blocks}, L)
 * @param channels        hidden size of each layer ({@code channels}, C)
 * @param intermediateDim width of {@code proj1}/{@code proj1_vf}/{@code proj2}
 * @param contextTokens   tokens per output frame ({@code context_tokens})
 * @param outputDim       width of each token ({@code output_dim})
 * @param normOutputAudio whether a LayerNorm {@code norm} follows {@code proj3} ({@code norm_output_audio})
 */
public record AudioProjConfig(int audioWindow, int vaeScale, int blocks, int channels, int intermediateDim,
                              int contextTokens, int outputDim, boolean normOutputAudio) implements java.io.Serializable {
    /** LayerNorm eps of {@code nn.LayerNorm(output_dim)} (PyTorch's default). */
    public static final double NORM_EPS = 1e-5;

    public AudioProjConfig {
        if (audioWindow < 1 || audioWindow % 2 == 0) {
            throw new BadInputException("audio_window is " + audioWindow
                    + "; it must be a positive odd number (the window is centred on its frame).");
        }
        if (vaeScale < 2) {
            throw new BadInputException("vae_scale is " + vaeScale + "; it must be at least 2 (InfiniteTalk uses 4).");
        }
        positive("blocks", blocks);
        positive("channels", channels);
        positive("intermediate_dim", intermediateDim);
        positive("context_tokens", contextTokens);
        positive("output_dim", outputDim);
    }

    private static void positive(String key, int v) {
        if (v < 1) {
            throw new BadInputException(key + " is " + v + "; it must be at least 1.");
        }
    }

    /** InfiniteTalk's adapter: window 5, vae_scale 4, 12 × 768 audio features, 512 wide, 32 tokens of 768, norm. */
    public static AudioProjConfig defaults() {
        return new AudioProjConfig(5, 4, 12, 768, 512, 32, 768, true);
    }

    private static final Set<String> KEYS = Set.of("audio_window", "vae_scale", "blocks", "channels",
            "intermediate_dim", "context_tokens", "output_dim", "norm_output_audio");

    /**
     * Reads a JSON object with InfiniteTalk's key names ({@code audio_window}, {@code vae_scale}, {@code blocks},
     * {@code channels}, {@code intermediate_dim}, {@code context_tokens}, {@code output_dim},
     * {@code norm_output_audio}); absent keys take {@link #defaults()}, unknown keys and wrong types are errors
     * naming {@code source} and the key. Keys starting with "_" are ignored.
     */
    public static AudioProjConfig parse(String json, String source) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(json);
        } catch (java.io.IOException e) {
            throw new BadInputException(source + ": not valid JSON (" + e.getMessage() + ").", e);
        }
        if (root == null || !root.isObject()) {
            throw new BadInputException(source + ": expected a JSON object of adapter settings.");
        }
        AudioProjConfig d = defaults();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            String k = it.next().getKey();
            if (!k.startsWith("_") && !KEYS.contains(k)) {
                throw new BadInputException(source + ": unknown key \"" + k + "\"; allowed: "
                        + new java.util.TreeSet<>(KEYS) + ".");
            }
        }
        try {
            return new AudioProjConfig(intOf(root, "audio_window", d.audioWindow, source),
                    intOf(root, "vae_scale", d.vaeScale, source), intOf(root, "blocks", d.blocks, source),
                    intOf(root, "channels", d.channels, source),
                    intOf(root, "intermediate_dim", d.intermediateDim, source),
                    intOf(root, "context_tokens", d.contextTokens, source),
                    intOf(root, "output_dim", d.outputDim, source), boolOf(root, "norm_output_audio",
                    d.normOutputAudio, source));
        } catch (BadInputException e) {
            if (e.getMessage().startsWith(source)) {
                throw e;
            }
            throw new BadInputException(source + ": " + e.getMessage(), e);
        }
    }

    /** The key's value checked by the adapter section of {@link ConfigSchema} (type and range), or the default. */
    private static Object valueOf(JsonNode root, String key, Object dflt, String source) {
        JsonNode n = root.get(key);
        if (n == null) {
            return dflt;
        }
        Object raw = n.isBoolean() ? n.booleanValue() : n.isIntegralNumber() && n.canConvertToInt() ? n.intValue()
                : n.isTextual() ? (Object) ("\"" + n.textValue() + "\"") : n.toString();
        return ConfigSchema.section(ConfigSchema.ADAPTER).get(key).check(raw, source);
    }

    private static int intOf(JsonNode root, String key, int dflt, String source) {
        return (Integer) valueOf(root, key, dflt, source);
    }

    private static boolean boolOf(JsonNode root, String key, boolean dflt, String source) {
        return (Boolean) valueOf(root, key, dflt, source);
    }

    /** The settings as JSON with InfiniteTalk's key names (readable by {@link #parse}). */
    public String toJson() {
        return "{\"audio_window\": " + audioWindow + ", \"vae_scale\": " + vaeScale + ", \"blocks\": " + blocks
                + ", \"channels\": " + channels + ", \"intermediate_dim\": " + intermediateDim
                + ", \"context_tokens\": " + contextTokens + ", \"output_dim\": " + outputDim
                + ", \"norm_output_audio\": " + normOutputAudio + "}";
    }

    /** A copy with another window and vae scale (the trainer's {@code --audio-window}, {@code --vae-scale}). */
    public AudioProjConfig withWindow(int window, int scale) {
        return new AudioProjConfig(window, scale, blocks, channels, intermediateDim, contextTokens, outputDim,
                normOutputAudio);
    }

    /** Frames in a later-frame window: {@code seq_len_vf = audio_window + vae_scale - 1}. */
    public int windowVf() {
        return audioWindow + vaeScale - 1;
    }

    /** Input width of {@code proj1}: {@code audio_window × blocks × channels}. */
    public long inputDim() {
        return (long) audioWindow * blocks * channels;
    }

    /** Input width of {@code proj1_vf}: {@code (audio_window + vae_scale - 1) × blocks × channels}. */
    public long inputDimVf() {
        return (long) windowVf() * blocks * channels;
    }

    /** Parameter count (weights and biases, plus the norm's when present). */
    public long parameterCount() {
        long i = intermediateDim;
        long out = (long) contextTokens * outputDim;
        return inputDim() * i + i + inputDimVf() * i + i + i * i + i + i * out + out
                + (normOutputAudio ? 2L * outputDim : 0);
    }
}
