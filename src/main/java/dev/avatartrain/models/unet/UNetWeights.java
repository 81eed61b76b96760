package dev.avatartrain.models.unet;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

import org.apache.hadoop.conf.Configuration;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.hub.HubFiles;
import dev.avatartrain.models.nn.NamedWeights;
import dev.avatartrain.models.nn.Network;
import dev.avatartrain.storage.AtomicFiles;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.storage.StorageUrl;
import dev.avatartrain.tensors.Safetensors;
import dev.avatartrain.tensors.TensorFiles;

/**
 * Released UNet weights to start training from ({@code model.unet_pretrained_model_name_or_path}) and the layouts
 * they come in. {@link #locate} finds the weights file (and the folder's config, when there is one):
 * <ul>
 * <li>a weights file: {@code .safetensors}, or {@code .bin}/{@code .pt}/{@code .pth} through the restricted
 * reader (never executing pickle code), with or without a {@code unet.} prefix on the names;</li>
 * <li>a diffusers folder: {@code config.json} + {@code diffusion_pytorch_model.safetensors} (or {@code .bin});</li>
 * <li>MuseTalk's folder: {@code musetalk.json} + {@code pytorch_model.bin} (a {@code torch.save} of the
 * state dict);</li>
 * <li>a checkpoint of this project: {@code model.safetensors} + {@code training_state.json};</li>
 * <li>any of these at a storage URL ({@code s3a://}, {@code https://}, {@code file://}; copied to a local cache once),
 * or, through a {@link HubLookup}, a Hugging Face repository id with an optional subfolder.</li>
 * </ul>
 * {@link #load} is strict like PyTorch's {@code load_state_dict(strict=True)}: every missing, unexpected or
 * mis-shaped tensor is named with the shape found and the shape expected, and nothing is copied unless all match.
 *
 * <p>Where the weights record the audio positional encoding they were trained with (a checkpoint's state, the
 * {@code __metadata__} of an exported safetensors file, the {@value #SIDECAR} beside an exported folder), it is in
 * {@link Source#positionalEncoding()}; MuseTalk's own folders record nothing, and MuseTalk always uses its encoding,
 * so a MuseTalk folder without the sidecar counts as {@code musetalk}.
 */
public final class UNetWeights {
    /** Key of the audio positional encoding in checkpoint info, safetensors metadata and {@value #SIDECAR}. */
    public static final String PE_KEY = "audio_positional_encoding";
    /** Key of the UNet config JSON in checkpoint info. */
    public static final String CONFIG_KEY = "unet_config";
    /** What this project writes beside an exported folder: {@code {"audio_positional_encoding": ...}}. */
    public static final String SIDECAR = "avatar_train.json";
    public static final String MUSETALK_CONFIG = "musetalk.json";
    public static final String MUSETALK_WEIGHTS = "pytorch_model.bin";
    /** MuseTalk 1.5's name for the same file ({@code models/musetalkV15/unet.pth}). */
    public static final String MUSETALK_V15_WEIGHTS = "unet.pth";
    public static final String DIFFUSERS_CONFIG = "config.json";
    public static final String DIFFUSERS_WEIGHTS = "diffusion_pytorch_model.safetensors";
    public static final String DIFFUSERS_BIN = "diffusion_pytorch_model.bin";
    static final String CHECKPOINT_WEIGHTS = "model.safetensors";
    static final String CHECKPOINT_STATE = "training_state.json";
    private static final String KEY = "model.unet_pretrained_model_name_or_path";
    private static final ObjectMapper JSON = new ObjectMapper();
    /** The weights file of a folder or repo, in the order looked for: a checkpoint's, diffusers', MuseTalk's. */
    public static final List<String> WEIGHTS_FILES = List.of(CHECKPOINT_WEIGHTS, DIFFUSERS_WEIGHTS, DIFFUSERS_BIN, MUSETALK_WEIGHTS,
            MUSETALK_V15_WEIGHTS);

    /** Files copied from a remote folder: those of every layout above. */
    private static final List<String> FOLDER_FILES = List.of(MUSETALK_CONFIG, MUSETALK_WEIGHTS, MUSETALK_V15_WEIGHTS, DIFFUSERS_CONFIG, DIFFUSERS_WEIGHTS,
            DIFFUSERS_BIN, CHECKPOINT_WEIGHTS, CHECKPOINT_STATE, SIDECAR);

    private UNetWeights() {}

    /** Finds a Hugging Face repository's files locally (e.g. {@code dev.avatartrain.hub}); null when {@code spec} is not a repo id. */
    public interface HubLookup {
        Path folder(String spec);
    }

    /**
     * Hugging Face ids ({@code owner/name[@revision][:subfolder]}, or {@code :path/file.bin} for one file) through the
     * project's hub resolver: the folder holding the first complete layout found (MuseTalk's, then diffusers').
     */
    public static HubLookup hub(Configuration hadoop) {
        return spec -> {
            if (!HubFiles.isRepoId(spec)) return null;
            if (spec.matches("(?i).*\\.(safetensors|bin|pt|pth)")) return HubFiles.resolveWeightsFile(spec, List.of(), hadoop);
            return HubFiles.resolveFirst(spec, List.of(List.of(MUSETALK_CONFIG, MUSETALK_WEIGHTS),
                    List.of(MUSETALK_CONFIG, MUSETALK_V15_WEIGHTS), List.of(DIFFUSERS_CONFIG, DIFFUSERS_WEIGHTS),
                    List.of(DIFFUSERS_CONFIG, DIFFUSERS_BIN)), hadoop).get(0).getParent();
        };
    }

    /**
     * Where the weights are.
     *
     * @param layout             {@code file}, {@code diffusers}, {@code musetalk} or {@code checkpoint}
     * @param configJson         the folder's UNet config (diffusers {@code config.json}, {@code musetalk.json}, a checkpoint's
     *                           recorded one), or null for a bare file
     * @param positionalEncoding the recorded audio positional encoding, or null when the weights do not say
     */
    public record Source(String spec, Path weights, String layout, String configJson, String configSource, String positionalEncoding) {
        public UNetConfig config() {
            return configJson == null ? null : UNetConfig.parse(configJson, configSource);
        }
    }

    /** Resolves {@code spec}; remote files are copied under {@code cacheDir}; {@code hub} may be null (no hub ids). */
    public static Source locate(String spec, Path cacheDir, Configuration hadoop, HubLookup hub) {
        if (spec == null || spec.isBlank()) throw new BadInputException(KEY + " is empty");
        Path local;
        Path fromHub = !spec.contains("://") && !Files.exists(Path.of(spec)) && hub != null ? hub.folder(spec) : null;
        if (fromHub != null) {
            local = fromHub; // a Hugging Face id
        } else if (!StorageUrl.parse(spec, KEY).isLocal()) {
            local = copyRemote(spec, cacheDir, hadoop);
        } else {
            local = StorageUrl.parse(spec, KEY).localPath();
            if (!Files.exists(local)) {
                Path found = hub == null ? null : hub.folder(spec);
                if (found == null) {
                    throw new BadInputException(KEY + ": " + spec + " does not exist (expected a weights file, a diffusers folder with "
                            + DIFFUSERS_CONFIG + ", a MuseTalk folder with " + MUSETALK_CONFIG + " + " + MUSETALK_WEIGHTS
                            + ", a storage URL or a Hugging Face id)");
                }
                local = found;
            }
        }
        return Files.isDirectory(local) ? folder(spec, local) : file(spec, local);
    }

    private static Source file(String spec, Path file) {
        String name = file.getFileName().toString();
        try {
            TensorFiles.formatOf(name);
        } catch (BadInputException e) {
            throw new BadInputException(KEY + ": " + spec + ": not a weights file (expected .safetensors, .bin, .pt or .pth)");
        }
        String pe = null;
        if (name.toLowerCase(Locale.ROOT).endsWith(".safetensors")) {
            try (InputStream in = Files.newInputStream(file)) {
                pe = Safetensors.readMetadata(in, file.toString()).get(PE_KEY);
            } catch (IOException e) {
                throw new BadInputException(file + ": cannot be read: " + e.getMessage(), e);
            }
        }
        return new Source(spec, file, "file", null, null, pe);
    }

    private static Source folder(String spec, Path dir) {
        String sidecarPe = sidecar(dir);
        if (Files.isRegularFile(dir.resolve(MUSETALK_CONFIG)) || Files.isRegularFile(dir.resolve(MUSETALK_WEIGHTS))) {
            Path cfg = need(dir, MUSETALK_CONFIG, "MuseTalk");
            Path w = Files.isRegularFile(dir.resolve(MUSETALK_V15_WEIGHTS)) && !Files.isRegularFile(dir.resolve(MUSETALK_WEIGHTS))
                    ? dir.resolve(MUSETALK_V15_WEIGHTS) : need(dir, MUSETALK_WEIGHTS, "MuseTalk");
            return new Source(spec, w, "musetalk", text(cfg), cfg.toString(), sidecarPe != null ? sidecarPe : "musetalk");
        }
        if (Files.isRegularFile(dir.resolve(DIFFUSERS_CONFIG))) {
            Path w = Files.isRegularFile(dir.resolve(DIFFUSERS_WEIGHTS)) ? dir.resolve(DIFFUSERS_WEIGHTS) : dir.resolve(DIFFUSERS_BIN);
            if (!Files.isRegularFile(w)) {
                throw new BadInputException(KEY + ": " + dir + " has " + DIFFUSERS_CONFIG + " but neither " + DIFFUSERS_WEIGHTS + " nor "
                        + DIFFUSERS_BIN + " (diffusers layout)");
            }
            Path cfg = dir.resolve(DIFFUSERS_CONFIG);
            return new Source(spec, w, "diffusers", text(cfg), cfg.toString(), sidecarPe);
        }
        if (Files.isRegularFile(dir.resolve(CHECKPOINT_WEIGHTS)) && Files.isRegularFile(dir.resolve(CHECKPOINT_STATE))) {
            JsonNode info = json(dir.resolve(CHECKPOINT_STATE)).path("info");
            String cfg = info.hasNonNull(CONFIG_KEY) ? info.get(CONFIG_KEY).asText() : null;
            String pe = info.hasNonNull(PE_KEY) ? info.get(PE_KEY).asText() : "none";
            return new Source(spec, dir.resolve(CHECKPOINT_WEIGHTS), "checkpoint", cfg, dir.resolve(CHECKPOINT_STATE) + " (info.unet_config)", pe);
        }
        List<String> names = new ArrayList<>();
        try (var s = Files.list(dir)) {
            s.forEach(p -> names.add(p.getFileName().toString()));
        } catch (IOException e) {
            throw new BadInputException(dir + ": cannot list: " + e.getMessage(), e);
        }
        names.sort(null);
        throw new BadInputException(KEY + ": " + dir + " is neither a diffusers folder (" + DIFFUSERS_CONFIG + " + " + DIFFUSERS_WEIGHTS
                + ") nor MuseTalk's (" + MUSETALK_CONFIG + " + " + MUSETALK_WEIGHTS + ") nor a checkpoint; it holds " + names);
    }

    private static Path need(Path dir, String name, String layout) {
        Path p = dir.resolve(name);
        if (!Files.isRegularFile(p)) {
            throw new BadInputException(KEY + ": " + dir + " looks like " + layout + "'s layout but has no " + name + " ("
                    + MUSETALK_CONFIG + " + " + MUSETALK_WEIGHTS + " are both needed)");
        }
        return p;
    }

    private static String sidecar(Path dir) {
        Path p = dir.resolve(SIDECAR);
        if (!Files.isRegularFile(p)) return null;
        JsonNode n = json(p);
        return n.hasNonNull(PE_KEY) ? n.get(PE_KEY).asText() : null;
    }

    private static JsonNode json(Path p) {
        try {
            return JSON.readTree(p.toFile());
        } catch (IOException e) {
            throw new BadInputException(p + ": not valid JSON: " + e.getMessage(), e);
        }
    }

    private static String text(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException e) {
            throw new BadInputException(p + ": cannot be read: " + e.getMessage(), e);
        }
    }

    /** Copies a remote weights file, or the known files of a remote folder, to {@code cacheDir} (once: complete files are reused). */
    private static Path copyRemote(String spec, Path cacheDir, Configuration hadoop) {
        String trimmed = spec.endsWith("/") ? spec.substring(0, spec.length() - 1) : spec;
        int slash = trimmed.lastIndexOf('/');
        String last = trimmed.substring(slash + 1);
        boolean isFile = last.matches("(?i).*\\.(safetensors|bin|pt|pth)");
        Path target = cacheDir.resolve("unet-" + Integer.toHexString(trimmed.hashCode()));
        try {
            Files.createDirectories(target);
            if (isFile) {
                try (Storage s = Storage.forUrl(trimmed.substring(0, slash), hadoop)) {
                    copy(s, last, target.resolve(last));
                }
                return target.resolve(last);
            }
            try (Storage s = Storage.forUrl(trimmed, hadoop)) {
                int copied = 0;
                for (String name : FOLDER_FILES) {
                    if (s.exists(name)) {
                        copy(s, name, target.resolve(name));
                        copied++;
                    }
                }
                if (copied == 0) {
                    throw new BadInputException(KEY + ": " + spec + " holds none of " + FOLDER_FILES + " (a diffusers, MuseTalk or checkpoint folder)");
                }
            }
            return target;
        } catch (IOException e) {
            throw new BadInputException(KEY + ": cannot copy " + spec + ": " + e.getMessage(), e);
        }
    }

    private static void copy(Storage s, String name, Path local) throws IOException {
        if (Files.exists(local)) return;
        try (InputStream in = s.open(name)) {
            AtomicFiles.write(local, in::transferTo);
        }
    }

    /** Every tensor of a weights file in float32. */
    public static Map<String, INDArray> read(Path file) {
        return TensorFiles.read(file, DataType.FLOAT);
    }

    /**
     * Copies {@code weights} (names with or without a {@code unet.} prefix) into {@code net}'s parameters, strictly.
     *
     * @throws BadInputException naming every missing tensor (with its expected shape), every unexpected one (with its shape)
     *                           and every mis-shaped one (found and expected)
     */
    public static void load(Network net, Map<String, INDArray> weights, String source) {
        String prefix = NamedWeights.guessPrefix(net, weights, "unet.");
        Map<String, INDArray> params = net.parameters();
        List<String> missing = new ArrayList<>(), badShape = new ArrayList<>();
        TreeSet<String> unexpected = new TreeSet<>();
        Map<String, INDArray> stripped = new LinkedHashMap<>();
        for (Map.Entry<String, INDArray> e : weights.entrySet()) {
            if (e.getKey().startsWith(prefix)) stripped.put(e.getKey().substring(prefix.length()), e.getValue());
            else unexpected.add(e.getKey() + " " + Arrays.toString(e.getValue().shape()));
        }
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            INDArray w = stripped.get(e.getKey());
            if (w == null) missing.add(prefix + e.getKey() + " (expected " + Arrays.toString(e.getValue().shape()) + ")");
            else if (!Arrays.equals(w.shape(), e.getValue().shape()))
                badShape.add(prefix + e.getKey() + " is " + Arrays.toString(w.shape()) + ", expected " + Arrays.toString(e.getValue().shape()));
        }
        for (Map.Entry<String, INDArray> e : stripped.entrySet()) {
            if (!params.containsKey(e.getKey())) unexpected.add(prefix + e.getKey() + " " + Arrays.toString(e.getValue().shape()));
        }
        if (!missing.isEmpty() || !unexpected.isEmpty() || !badShape.isEmpty()) {
            StringBuilder sb = new StringBuilder(source + ": the weights do not match the UNet of the configuration (strict loading):");
            list(sb, "missing", missing);
            list(sb, "unexpected", new ArrayList<>(unexpected));
            list(sb, "wrong shape", badShape);
            sb.append(" Check model.unet_config_file (or the folder's config) against the weights.");
            throw new BadInputException(sb.toString());
        }
        NamedWeights.load(net, stripped, "", source);
    }

    private static void list(StringBuilder sb, String what, List<String> items) {
        if (items.isEmpty()) return;
        int shown = Math.min(items.size(), 30);
        sb.append(' ').append(items.size()).append(' ').append(what).append(": ").append(String.join(", ", items.subList(0, shown)));
        if (shown < items.size()) sb.append(", … ").append(items.size() - shown).append(" more");
        sb.append('.');
    }

    /**
     * The UNet config to build: the folder's when {@code configured} is null; when both are given they must describe the
     * same network, else an error naming both files.
     */
    public static UNetConfig chooseConfig(Source source, UNetConfig configured, String configuredFile) {
        UNetConfig fromFolder = source.config();
        if (fromFolder == null) {
            if (configured == null) {
                throw new BadInputException(KEY + ": " + source.spec() + " is a bare weights file, so model.unet_config_file must be set"
                        + " to its UNet config");
            }
            return configured;
        }
        if (configured != null && !configured.equals(fromFolder)) {
            throw new BadInputException("model.unet_config_file " + configuredFile + " and the config of " + source.spec() + " ("
                    + source.configSource() + ") describe different UNets:\n  " + configuredFile + ": " + configured + "\n  "
                    + source.configSource() + ": " + fromFolder + "\nTo use the folder's config, unset model.unet_config_file (an empty"
                    + " value in model.yaml, or --set model.unet_config_file=); else point it at a config that agrees with the weights.");
        }
        return fromFolder;
    }
}
