package dev.avatartrain.hub;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;

import dev.avatartrain.errors.BadInputException;

/**
 * The hub settings {@code huggingface_hub} reads from the environment:
 * {@code HF_ENDPOINT} (default {@code https://huggingface.co}), the cache ({@code HF_HUB_CACHE}, else
 * {@code HF_HOME/hub}, else {@code $XDG_CACHE_HOME/huggingface/hub}, else {@code ~/.cache/huggingface/hub}),
 * {@code HF_HUB_OFFLINE} (1/true/yes/on) and the token ({@code HF_TOKEN}, else the file {@code HF_TOKEN_PATH},
 * default {@code HF_HOME/token}, that {@code huggingface-cli login} writes), the time-outs in seconds
 * ({@code HF_HUB_ETAG_TIMEOUT} for the metadata request, {@code HF_HUB_DOWNLOAD_TIMEOUT} for a download's reads; both
 * default 10) and the proxies {@code requests} reads ({@link HubProxies}).
 * On a cluster, pass them to executors as well ({@code spark.executorEnv.HF_TOKEN}, ...).
 */
public record HubEnv(String endpoint, Path cacheDir, String token, boolean offline, Duration etagTimeout,
                     Duration downloadTimeout, HubProxies proxies) {
    public static final String DEFAULT_ENDPOINT = "https://huggingface.co";

    /** The environment; a JVM system property of the same name ({@code -DHF_ENDPOINT=...}) wins over the variable. */
    public static HubEnv fromSystem() {
        Map<String, String> vars = new java.util.HashMap<>(System.getenv());
        for (String name : System.getProperties().stringPropertyNames()) {
            if (name.startsWith("HF_") || name.startsWith("HUGGING") || name.toUpperCase(Locale.ROOT).matches("(HTTPS?|NO)_PROXY")) {
                vars.put(name, System.getProperty(name));
            }
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
        return new HubEnv(endpoint, cacheDir, token, isTrue(env.get("HF_HUB_OFFLINE")), seconds(env, "HF_HUB_ETAG_TIMEOUT"),
                seconds(env, "HF_HUB_DOWNLOAD_TIMEOUT"), HubProxies.from(env));
    }

    private static Duration seconds(Map<String, String> env, String name) {
        String v = nonBlank(env.get(name), "10");
        try {
            double s = Double.parseDouble(v.strip());
            if (s > 0) return Duration.ofMillis(Math.round(s * 1000));
        } catch (NumberFormatException e) {
            // refused below
        }
        throw new BadInputException(name + "=" + v + " is not a time-out: give a positive number of seconds");
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
        return "HubEnv[endpoint=" + endpoint + ", cache=" + cacheDir + ", token=" + (token == null ? "none" : "set") + ", offline=" + offline
                + ", proxies=" + proxies + "]";
    }
}
