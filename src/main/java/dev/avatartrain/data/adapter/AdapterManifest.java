package dev.avatartrain.data.adapter;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.models.adapter.AudioProjConfig;
import dev.avatartrain.models.adapter.AudioWindows;
import dev.avatartrain.storage.SafePaths;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.storage.StorageUrl;
import dev.avatartrain.tensors.TensorFiles;
import org.apache.hadoop.conf.Configuration;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The audio-adapter training manifest: a JSON list of {@code {"audio": path, "target": path, "weight": number}}
 * ({@code weight} optional, default 1). Paths are absolute (a local path, {@code file:}, {@code s3a://},
 * {@code https://}) or relative to the manifest's folder, and are read through {@link Storage}.
 *
 * <p>{@code audio} is a {@code [T, L, C]} tensor of per-frame audio features, {@code target} the teacher's tokens
 * {@code [1 + ⌈(T−1)/vae_scale⌉, context_tokens, output_dim]}; each is a {@code .safetensors}, {@code .pt}
 * (restricted reader), {@code .npy} or {@code .npz} file holding one tensor (or one named {@code audio} /
 * {@code target}). fp16 / bf16 / fp64 values are converted to float. Every problem is a
 * {@link BadInputException} naming the manifest, the item index, the file, what was found and what was expected.
 *
 * <p>Reading the manifest checks its structure only; {@link #load} reads and validates one item's tensors, so a
 * worker loads its own items lazily. Unknown keys in an item are ignored and listed by {@link #ignoredKeys()}.
 */
public final class AdapterManifest implements Serializable {
    private static final long serialVersionUID = 1L;
    private static final Set<String> KEYS = Set.of("audio", "target", "weight");

    /** One entry; {@code audio} and {@code target} are resolved to absolute locations. */
    public record Item(int index, String audio, String target, double weight) implements Serializable {
    }

    /** One loaded, validated item: audio {@code [T, L, C]} and target {@code [N, tokens, dim]} as FLOAT. */
    public record Example(int index, INDArray audio, INDArray target, double weight) {
        /** Video frames T of the clip. */
        public int frames() {
            return (int) audio.size(0);
        }
    }

    private final String source;
    private final List<Item> items;
    private final Set<String> ignoredKeys;

    private AdapterManifest(String source, List<Item> items, Set<String> ignoredKeys) {
        this.source = source;
        this.items = List.copyOf(items);
        this.ignoredKeys = Set.copyOf(ignoredKeys);
    }

    /** Reads the manifest at {@code url} (local path, {@code file:}, {@code s3a://}, {@code https://}). */
    public static AdapterManifest read(String url, Configuration hadoop) {
        byte[] bytes;
        try (Storage s = Storage.forUrl(url, hadoop)) {
            bytes = s.readAll("");
        } catch (FileNotFoundException e) {
            throw new BadInputException("Manifest " + url + " not found (" + e.getMessage() + ")", e);
        } catch (IOException e) {
            throw new BadInputException("Manifest " + url + " cannot be read: " + e.getMessage(), e);
        }
        return parse(new String(bytes, StandardCharsets.UTF_8), url);
    }

    /** Parses manifest text; {@code url} is where it came from (relative paths resolve against its folder). */
    public static AdapterManifest parse(String json, String url) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(json);
        } catch (JsonProcessingException e) {
            throw new BadInputException("Manifest " + url + " is not valid JSON: " + e.getOriginalMessage() + ".", e);
        }
        if (root == null || !root.isArray()) {
            throw new BadInputException("Manifest " + url + " must be a JSON list of {\"audio\": path, \"target\": path,"
                    + " \"weight\": number} objects; found " + (root == null ? "nothing" : root.getNodeType()) + ".");
        }
        if (root.isEmpty()) {
            throw new BadInputException("Manifest " + url + " is an empty list: it names no training items.");
        }
        String base = folderOf(url);
        List<Item> items = new ArrayList<>();
        Set<String> ignored = new TreeSet<>();
        for (int i = 0; i < root.size(); i++) {
            JsonNode n = root.get(i);
            String where = "Manifest " + url + ", item " + i;
            if (!n.isObject()) {
                throw new BadInputException(where + ": expected an object {\"audio\": path, \"target\": path}, found "
                        + n + ".");
            }
            for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
                String k = it.next().getKey();
                if (!KEYS.contains(k)) {
                    ignored.add(k);
                }
            }
            String audio = path(n, "audio", where);
            String target = path(n, "target", where);
            double weight = 1.0;
            JsonNode w = n.get("weight");
            if (w != null && !w.isNull()) {
                if (!w.isNumber() || !Double.isFinite(w.doubleValue()) || w.doubleValue() < 0) {
                    throw new BadInputException(where + ": \"weight\" is " + w
                            + "; expected a finite number >= 0 (or no weight, meaning 1).");
                }
                weight = w.doubleValue();
            }
            items.add(new Item(i, resolve(base, audio, where + ": \"audio\""),
                    resolve(base, target, where + ": \"target\""), weight));
        }
        return new AdapterManifest(url, items, ignored);
    }

    private static String path(JsonNode n, String key, String where) {
        JsonNode v = n.get(key);
        if (v == null || !v.isTextual() || v.textValue().isBlank()) {
            throw new BadInputException(where + ": \"" + key + "\" must be a path (absolute or relative to the "
                    + "manifest), found " + (v == null ? "no such key" : v.toString()) + ".");
        }
        return v.textValue().strip();
    }

    private static boolean isAbsolute(String p) {
        return p.startsWith("/") || p.startsWith("file:") || p.contains("://");
    }

    /** The manifest's folder: a local directory, or a URL ending in '/'. */
    private static String folderOf(String url) {
        StorageUrl u = StorageUrl.parse(url, "manifest");
        if (u.isLocal()) {
            Path parent = u.localPath().getParent();
            return parent == null ? Path.of("").toAbsolutePath().toString() : parent.toString();
        }
        String s = url.strip();
        return s.substring(0, s.lastIndexOf('/') + 1);
    }

    /** An absolute location as given; a relative one must stay inside the manifest's folder ({@link SafePaths}). */
    private static String resolve(String base, String p, String where) {
        if (isAbsolute(p)) {
            return p;
        }
        SafePaths.relative(p, where);
        if (!base.contains("://")) {
            return Path.of(base).resolve(p).normalize().toString();
        }
        String rel = p.startsWith("./") ? p.substring(2) : p;
        return base.endsWith("/") ? base + rel : base + "/" + rel;
    }

    public String source() {
        return source;
    }

    public List<Item> items() {
        return items;
    }

    public int size() {
        return items.size();
    }

    /** Keys found in items other than audio, target and weight (ignored; a job may warn about them). */
    public Set<String> ignoredKeys() {
        return ignoredKeys;
    }

    /** Loads and validates item {@code i} (see {@link #load(String, Item, AudioProjConfig, Configuration)}). */
    public Example load(int i, AudioProjConfig config, Configuration hadoop) {
        return load(source, items.get(i), config, hadoop);
    }

    /**
     * Reads an item's tensors as FLOAT and checks them against {@code config}: audio {@code [T, blocks, channels]}
     * with T ≥ 1, target {@code [1 + ⌈(T−1)/vae_scale⌉, context_tokens, output_dim]}.
     *
     * @param manifest the manifest's name, for messages
     */
    public static Example load(String manifest, Item item, AudioProjConfig config, Configuration hadoop) {
        String where = "Manifest " + manifest + ", item " + item.index();
        INDArray audio = tensor(where, "audio", item.audio(), hadoop);
        long[] a = audio.shape();
        if (a.length != 3 || a[0] < 1 || a[1] != config.blocks() || a[2] != config.channels()) {
            throw new BadInputException(where + ": audio " + item.audio() + " has shape " + Arrays.toString(a)
                    + "; expected [T, " + config.blocks() + ", " + config.channels()
                    + "] (frames, audio-encoder layers, hidden size) with T >= 1.");
        }
        INDArray target = tensor(where, "target", item.target(), hadoop);
        int frames = AudioWindows.outputFrames((int) a[0], config.vaeScale());
        long[] expected = {frames, config.contextTokens(), config.outputDim()};
        if (!Arrays.equals(target.shape(), expected)) {
            throw new BadInputException(where + ": target " + item.target() + " has shape "
                    + Arrays.toString(target.shape()) + "; expected " + Arrays.toString(expected) + " (1 + ⌈(T−1)/"
                    + config.vaeScale() + "⌉ = " + frames + " frames for the audio's T = " + a[0]
                    + ", context_tokens, output_dim).");
        }
        return new Example(item.index(), audio, target, item.weight());
    }

    /**
     * The checks of {@link #load} from the files' headers only (shape, and a floating-point dtype): the problem of this
     * item as a sentence, or null when it fits. Cheap enough to run over every item before training.
     */
    public static String checkHeaders(String manifest, Item item, AudioProjConfig config, Configuration hadoop) {
        String where = "Manifest " + manifest + ", item " + item.index();
        try {
            TensorFiles.Described audio = header(where, "audio", item.audio(), hadoop);
            long[] a = audio.shape();
            List<String> problems = new ArrayList<>();
            if (a.length != 3 || a[0] < 1 || a[1] != config.blocks() || a[2] != config.channels()) {
                problems.add("audio " + item.audio() + " has shape " + Arrays.toString(a) + "; expected [T, " + config.blocks() + ", "
                        + config.channels() + "] (frames, audio-encoder layers, hidden size) with T >= 1");
            }
            if (!audio.floating()) problems.add("audio " + item.audio() + " has dtype " + audio.dtype() + "; expected a float type");
            TensorFiles.Described target = header(where, "target", item.target(), hadoop);
            if (a.length == 3 && a[0] >= 1) {
                int frames = AudioWindows.outputFrames((int) a[0], config.vaeScale());
                long[] expected = {frames, config.contextTokens(), config.outputDim()};
                if (!Arrays.equals(target.shape(), expected)) {
                    problems.add("target " + item.target() + " has shape " + Arrays.toString(target.shape()) + "; expected "
                            + Arrays.toString(expected) + " (1 + ⌈(T−1)/" + config.vaeScale() + "⌉ = " + frames + " frames for the audio's T = "
                            + a[0] + ", context_tokens, output_dim)");
                }
            }
            if (!target.floating()) problems.add("target " + item.target() + " has dtype " + target.dtype() + "; expected a float type");
            return problems.isEmpty() ? null : where + ": " + String.join("; ", problems) + ".";
        } catch (BadInputException e) {
            return e.getMessage();
        }
    }

    private static TensorFiles.Described header(String where, String role, String url, Configuration hadoop) {
        return theTensor(where, role, url, read(where, role, url, hadoop, TensorFiles::describe));
    }

    /**
     * Loaded examples as one padded training batch (windows, zero-padded targets, mask, weights): the input of
     * {@code AudioProjModel.placeholders(batch)}.
     */
    public static AudioWindows.Batch batch(List<Example> examples, AudioProjConfig config, DataType dtype) {
        List<INDArray> audio = new ArrayList<>(examples.size());
        List<INDArray> target = new ArrayList<>(examples.size());
        double[] weight = new double[examples.size()];
        for (int i = 0; i < weight.length; i++) {
            Example e = examples.get(i);
            audio.add(e.audio());
            target.add(e.target());
            weight[i] = e.weight();
        }
        return AudioWindows.batch(audio, target, weight, config, dtype);
    }

    private static INDArray tensor(String where, String role, String url, Configuration hadoop) {
        return theTensor(where, role, url, read(where, role, url, hadoop, (in, name) -> TensorFiles.read(in, name, DataType.FLOAT)));
    }

    /** What {@code reader} makes of the item's file (its headers or its tensors), errors naming the item, role and URL. */
    private static <T> Map<String, T> read(String where, String role, String url, Configuration hadoop, FileReader<T> reader) {
        String name = url.substring(url.lastIndexOf('/') + 1);
        try (Storage s = Storage.forUrl(url, hadoop); InputStream in = s.open("")) {
            return reader.read(in, name);
        } catch (FileNotFoundException e) {
            throw new BadInputException(where + ": " + role + " file " + url + " not found.", e);
        } catch (BadInputException e) {
            String m = e.getMessage().startsWith(name + ": ") ? e.getMessage().substring(name.length() + 2) : e.getMessage();
            throw new BadInputException(where + ": " + role + " file " + url + ": " + m, e);
        } catch (IOException e) {
            throw new BadInputException(where + ": " + role + " file " + url + " cannot be read: " + e.getMessage(), e);
        }
    }

    /** The file's only tensor, or the one named after its role. */
    private static <T> T theTensor(String where, String role, String url, Map<String, T> tensors) {
        if (tensors.size() == 1) return tensors.values().iterator().next();
        T named = tensors.get(role);
        if (named == null) {
            throw new BadInputException(where + ": " + role + " file " + url + " holds " + tensors.size()
                    + " tensors " + tensors.keySet() + "; expected one tensor, or one named \"" + role + "\".");
        }
        return named;
    }

    private interface FileReader<T> {
        Map<String, T> read(InputStream in, String name) throws IOException;
    }
}
