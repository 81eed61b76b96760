package dev.avatartrain.hub;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;

/**
 * The hub settings {@code huggingface_hub} reads from the environment:
 * {@code HF_ENDPOINT} (default {@code https://huggingface.co}), the cache ({@code HF_HUB_CACHE}, else
 * {@code HF_HOME/hub}, else {@code $XDG_CACHE_HOME/huggingface/hub}, else {@code ~/.cache/huggingface/hub}),
 * {@code HF_HUB_OFFLINE} (1/true/yes/on) and the token ({@code HF_TOKEN}, else the file {@code HF_TOKEN_PATH},
 * default {@code HF_HOME/token}, that {@code huggingface-cli login} writes).
 * On a cluster, pass them to executors as well ({@code spark.executorEnv.HF_TOKEN}, ...).
 */
public record HubEnv(String endpoint, Path cacheDir, String token, boolean offline) {
    public static final String DEFAULT_ENDPOINT = "https://huggingface.co";

    /** The environment; a JVM system property of the same name ({@code -DHF_ENDPOINT=...}) wins over the variable. */
    public static HubEnv fromSystem() {
        Map<String, String> vars = new java.util.HashMap<>(System.getenv());
        for (String name : System.getProperties().stringPropertyNames()) {
            if (name.startsWith("HF_") || name.startsWith("HUGGING")) vars.put(name, System.getProperty(name));
        }
        return from(vars, System.getProperty("user.home"));
    }

    public static HubEnv from(Map<String, String> env, String userHome) {
        String endpoint = nonBlank(env.get("HF_ENDPOINT"), DEFAULT_ENDPOINT).replaceAll("/+$", "");
        String xdg = nonBlank(env.get("XDG_CACHE_HOME"), userHome + "/.cache");
        Path home = Path.of(nonBlank(env.get("HF_HOME"), xdg + "/huggingface"));
        String cache = nonBlank(env.get("HF_HUB_CACHE"), env.get("HUGGINGFACE_HUB_CACHE"));
        Path cacheDir = cache != null ? Path.of(cache) : home.resolve("hub");
        String token = nonBlank(env.get("HF_TOKEN"), env.get("HUGGING_FACE_HUB_TOKEN"));
        if (token == null) token = tokenFile(Path.of(nonBlank(env.get("HF_TOKEN_PATH"), home.resolve("token").toString())));
        return new HubEnv(endpoint, cacheDir, token, isTrue(env.get("HF_HUB_OFFLINE")));
    }

    private static String tokenFile(Path file) {
        try {
            return Files.isRegularFile(file) ? nonBlank(Files.readString(file, StandardCharsets.UTF_8).strip(), null) : null;
        } catch (IOException e) {
            return null;
        }
    }

    private static boolean isTrue(String v) {
        return v != null && switch (v.strip().toUpperCase(Locale.ROOT)) {
            case "1", "ON", "YES", "TRUE" -> true;
            default -> false;
        };
    }

    private static String nonBlank(String v, String fallback) {
        return v == null || v.isBlank() ? fallback : v;
    }

    /** Without the token, for messages and logs. */
    @Override
    public String toString() {
        return "HubEnv[endpoint=" + endpoint + ", cache=" + cacheDir + ", token=" + (token == null ? "none" : "set") + ", offline=" + offline + "]";
    }
}
