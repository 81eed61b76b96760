package dev.avatartrain.config;

import dev.avatartrain.errors.BadInputException;
import org.apache.commons.lang3.StringUtils;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Reads the four YAML files, checks every key against {@link ConfigSchema}, applies overrides. */
final class ConfigLoader {
    static final String DEFAULT_DIR = "configuration/global";

    private final List<String> problems = new ArrayList<>();
    /** Where each value set last came from ("section.key" → file or "--set …"), so cross-key checks blame the right one. */
    private final Map<String, String> origin = new java.util.HashMap<>();

    AppConfig load(String configDir, List<String> overrides) {
        Map<String, Map<String, Object>> values = defaultValues();
        for (String section : ConfigSchema.SECTIONS) {
            Source src = source(configDir, DEFAULT_DIR + "/" + section + ".yaml");
            if (src == null) continue;
            Map<String, Object> file = parseYaml(src);
            if (file != null) apply(values, section, file, src.name);
        }
        if (overrides != null) for (String o : overrides) applyOverride(values, o);
        fail();
        checkAcross(values);
        fail();
        return fromValues(values);
    }

    /**
     * The one file of {@code section} (e.g. {@link ConfigSchema#ADAPTER}): {@code file}, or when null {@code defaultFile}
     * as the checkout or, outside one, the jar holds it; checked against the schema like the global files, then
     * {@code overrides} ({@code section.key=value}). Returns key → typed value, every key present.
     */
    Map<String, Object> loadSection(String section, Path file, String defaultFile, List<String> overrides, Map<String, Object> options) {
        String f = file == null ? null : file.toString();
        Map<String, Map<String, Object>> values = new LinkedHashMap<>();
        Map<String, Object> s = new LinkedHashMap<>();
        ConfigSchema.section(section).forEach((name, key) -> s.put(name, key.defaultValue()));
        values.put(section, s);
        Source src = f != null ? source(f.lastIndexOf('/') < 0 ? "." : f.substring(0, f.lastIndexOf('/')), f.substring(f.lastIndexOf('/') + 1))
                : source(null, defaultFile);
        Map<String, Object> parsed = src == null ? null : parseYaml(src);
        if (parsed != null) apply(values, section, parsed, src.name);
        if (overrides != null) for (String o : overrides) applyOverride(values, o);
        if (options != null) options.forEach((name, value) -> applyOption(values, section, name, value));
        fail();
        return s;
    }

    static Map<String, Map<String, Object>> defaultValues() {
        Map<String, Map<String, Object>> values = new LinkedHashMap<>();
        for (String section : ConfigSchema.SECTIONS) {
            Map<String, Object> s = new LinkedHashMap<>();
            ConfigSchema.section(section).forEach((name, key) -> s.put(name, key.defaultValue()));
            values.put(section, s);
        }
        return values;
    }

    AppConfig fromValues(Map<String, Map<String, Object>> values) {
        return new AppConfig(DataConfig.from(values.get("data")), TrainConfig.from(values.get("train")),
                ModelConfig.from(values.get("model")), OptimizerConfig.from(values.get("optimizer")), values);
    }

    private record Source(String name, String text) {}

    /**
     * The text of {@code configDir/<name of defaultPath>}, or with no {@code configDir} of {@code defaultPath} in the
     * checkout or, outside one, in the jar; null when a default is missing (defaults apply). {@code configDir} may be a
     * local folder, a folder bundled in the jar ({@code configuration/demo}) or a storage URL ({@code s3a://bucket/conf});
     * see {@link ConfigFiles}.
     */
    private Source source(String configDir, String defaultPath) {
        int slash = defaultPath.lastIndexOf('/');
        String fileName = defaultPath.substring(slash + 1);
        String dir = configDir != null ? configDir : slash < 0 ? "." : defaultPath.substring(0, slash);
        List<String> tried = new ArrayList<>();
        try {
            ConfigFiles.Text t = ConfigFiles.readIn(dir, fileName, configDir != null ? "--config-dir" : defaultPath, tried);
            if (t != null) return new Source(t.source(), t.text());
        } catch (BadInputException e) {
            problems.add(e.getMessage());
            return null;
        }
        if (configDir != null) {
            String file = ConfigFiles.isUrl(configDir) ? configDir.replaceAll("/+$", "") + "/" + fileName
                    : Path.of(configDir).resolve(fileName).toString();
            problems.add(file + ": configuration file is missing"
                    + (defaultPath.startsWith(DEFAULT_DIR + "/") ? "; --config-dir must hold "
                    + String.join(", ", ConfigSchema.SECTIONS.stream().map(s -> s + ".yaml").toList()) : "")
                    + "; tried " + String.join(", ", tried) + ".");
        }
        return null;
    }

    @SuppressWarnings("unchecked")
    private Map<String, Object> parseYaml(Source src) {
        Object doc;
        try {
            LoaderOptions options = new LoaderOptions();
            options.setAllowDuplicateKeys(false); // a key given twice is a mistake, not "the last one wins"
            doc = new Yaml(new SafeConstructor(options)).load(src.text);
        } catch (MarkedYAMLException e) {
            Mark m = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
            String where = m == null ? "" : " at line " + (m.getLine() + 1) + ", column " + (m.getColumn() + 1);
            problems.add(src.name + ": unreadable YAML" + where + ": " + e.getProblem() + ".");
            return null;
        } catch (YAMLException e) {
            problems.add(src.name + ": unreadable YAML: " + e.getMessage());
            return null;
        }
        if (doc == null) { // an empty file (or only comments) is more often a mistake than a wish for the defaults
            problems.add(src.name + ": the file is empty (no keys); give its keys, or delete it to use the defaults.");
            return null;
        }
        if (!(doc instanceof Map<?, ?> map)) {
            problems.add(src.name + ": expected a mapping of keys to values, found " + describe(doc) + ".");
            return null;
        }
        return (Map<String, Object>) map;
    }

    private void apply(Map<String, Map<String, Object>> values, String section, Map<?, ?> file, String where) {
        Map<String, ConfigKey> keys = ConfigSchema.section(section);
        for (Map.Entry<?, ?> e : file.entrySet()) {
            String name = String.valueOf(e.getKey());
            ConfigKey key = keys.get(name);
            if (key == null) {
                problems.add(where + ": unknown key '" + name + "'" + suggestion(name, keys.keySet()) + ".");
                continue;
            }
            set(values, key, e.getValue(), where);
        }
    }

    private void applyOverride(Map<String, Map<String, Object>> values, String override) {
        String where = "--set " + override;
        int eq = override.indexOf('=');
        int dot = override.indexOf('.');
        if (eq < 0 || dot < 0 || dot > eq) {
            problems.add(where + ": expected section.key=value, e.g. --set train.train_batch_size=4.");
            return;
        }
        String section = override.substring(0, dot);
        String name = override.substring(dot + 1, eq);
        if (!values.containsKey(section)) {
            problems.add(where + ": unknown section '" + section + "'" + suggestion(section, values.keySet())
                    + "; sections are " + String.join(", ", values.keySet()) + ".");
            return;
        }
        ConfigKey key = ConfigSchema.section(section).get(name);
        if (key == null) {
            problems.add(where + ": unknown key '" + name + "' in "
                    + (ConfigSchema.SECTIONS.contains(section) ? section + ".yaml" : ConfigSchema.ADAPTER_FILE)
                    + suggestion(name, ConfigSchema.section(section).keySet()) + ".");
            return;
        }
        Object raw;
        try {
            raw = new Yaml(new SafeConstructor(new LoaderOptions())).load(override.substring(eq + 1));
        } catch (YAMLException e) {
            raw = override.substring(eq + 1);
        }
        if (raw == null && override.substring(eq + 1).isEmpty()) raw = "";
        set(values, key, raw, where);
    }

    /**
     * A command-line option's value ({@code --manifest PATH}, …): checked and coerced like a file's value, but taken
     * literally, not parsed as YAML (a path such as "-" or "a: b" stays the string given).
     */
    private void applyOption(Map<String, Map<String, Object>> values, String section, String given, Object value) {
        String name = given.startsWith(section + ".") ? given.substring(section.length() + 1) : given;
        String where = "--" + name.replace('_', '-');
        ConfigKey key = ConfigSchema.section(section).get(name);
        if (key == null) {
            problems.add(where + ": unknown key '" + name + "'" + suggestion(name, ConfigSchema.section(section).keySet()) + ".");
            return;
        }
        set(values, key, value, where);
    }

    private void set(Map<String, Map<String, Object>> values, ConfigKey key, Object raw, String where) {
        Object value = raw == null ? null : key.coerce(raw);
        if (raw != null && value == null) {
            problems.add(where + ": key '" + key.name() + "' must be " + key.allowed() + ", found " + describe(raw) + ".");
            return;
        }
        String problem = key.problem(value);
        if (problem != null) {
            problems.add(where + ": key '" + key.name() + "' " + problem + "; it must be " + key.allowed() + ".");
            return;
        }
        values.get(key.section()).put(key.name(), value);
        origin.put(key.section() + "." + key.name(), where);
    }

    /** Checks that involve more than one value or a rule no single range expresses. */
    private void checkAcross(Map<String, Map<String, Object>> v) {
        int size = (Integer) v.get("data").get("IMAGE_SIZE");
        if (size % 8 != 0) {
            problems.add(origin.getOrDefault("data.IMAGE_SIZE", "data.yaml") + ": key 'IMAGE_SIZE' is " + size
                    + "; it must be a multiple of 8 (the autoencoder downsamples by 8).");
        }
    }

    private void fail() {
        if (problems.isEmpty()) return;
        String msg = problems.size() == 1 ? "Configuration error: " + problems.get(0)
                : "Configuration errors:\n  " + String.join("\n  ", problems);
        throw new BadInputException(msg);
    }

    private static String suggestion(String name, Iterable<String> known) {
        String best = null;
        int bestDist = Integer.MAX_VALUE;
        for (String k : known) {
            int d = StringUtils.getLevenshteinDistance(name.toLowerCase(), k.toLowerCase());
            if (d < bestDist) {
                bestDist = d;
                best = k;
            }
        }
        return best != null && bestDist <= Math.max(3, name.length() / 3) ? " (did you mean '" + best + "'?)" : "";
    }

    private static String describe(Object raw) {
        if (raw instanceof String s) return "'" + s + "' (a string)";
        if (raw instanceof Map) return "a mapping";
        if (raw instanceof List) return "a list";
        return raw + " (" + raw.getClass().getSimpleName().toLowerCase() + ")";
    }

}
