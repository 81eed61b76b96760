package dev.avatartrain.models.unet;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;

import org.nd4j.linalg.api.ndarray.INDArray;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.storage.AtomicFiles;
import dev.avatartrain.tensors.Safetensors;
import dev.avatartrain.tensors.TorchWriter;

/**
 * Writes UNet weights in the layouts inference code loads ({@code export --layout}):
 * <ul>
 * <li>{@code file}: one safetensors file (optionally with a name prefix such as {@code unet.});</li>
 * <li>{@code diffusers}: a folder {@code UNet2DConditionModel.from_pretrained(dir)} loads: {@code config.json} +
 * {@code diffusion_pytorch_model.safetensors};</li>
 * <li>{@code musetalk}: MuseTalk's folder, {@code musetalk.json} (the config's arguments, as MuseTalk passes them to
 * {@code UNet2DConditionModel(**config)}) + {@code pytorch_model.bin} ({@code torch.save} of the state dict, written by
 * {@link TorchWriter}), which MuseTalk's {@code UNet(unet_config, model_path)} loads with {@code load_state_dict}.</li>
 * </ul>
 * The audio positional encoding the weights were trained with goes into the safetensors {@code __metadata__} and, for
 * folders, {@value UNetWeights#SIDECAR}, so fine-tuning from an export checks it. A folder is written under a temporary
 * name and renamed into place; an older folder of the same name is replaced only once the new one is complete.
 */
public final class UNetLayouts {
    public static final java.util.List<String> LAYOUTS = java.util.List.of("file", "diffusers", "musetalk");
    private static final ObjectMapper JSON = new ObjectMapper();

    private UNetLayouts() {}

    /** Writes {@code weights} (diffusers names, no prefix) in {@code layout}; {@code config} is needed by the folder layouts. */
    public static void write(String layout, Path output, Map<String, INDArray> weights, UNetConfig config, String positionalEncoding,
                             String prefix, Map<String, String> metadata) throws IOException {
        Map<String, String> meta = new LinkedHashMap<>(metadata);
        meta.put("format", "pt");
        if (positionalEncoding != null) meta.put(UNetWeights.PE_KEY, positionalEncoding);
        switch (layout) {
            case "file" -> {
                Map<String, INDArray> named = new LinkedHashMap<>();
                weights.forEach((n, a) -> named.put(prefix + n, a));
                Safetensors.write(output, named, meta);
            }
            case "diffusers", "musetalk" -> {
                if (config == null) throw new BadInputException("export --layout " + layout + " needs the UNet's config (--unet-config FILE)");
                if (!prefix.isEmpty()) throw new BadInputException("export --prefix is for --layout file only (" + layout + " names have none)");
                folder(layout, output, weights, config, positionalEncoding, meta);
            }
            default -> throw new BadInputException("export --layout " + layout + ": expected one of " + LAYOUTS);
        }
    }

    private static void folder(String layout, Path output, Map<String, INDArray> weights, UNetConfig config, String pe,
                               Map<String, String> meta) throws IOException {
        Path abs = output.toAbsolutePath();
        if (Files.isRegularFile(abs)) throw new BadInputException(output + ": is a file; --layout " + layout + " writes a folder");
        Path tmp = AtomicFiles.newFolderBeside(abs);
        try {
            ObjectNode cfg = (ObjectNode) JSON.readTree(config.toJson());
            if (layout.equals("diffusers")) {
                AtomicFiles.writeString(tmp.resolve(UNetWeights.DIFFUSERS_CONFIG), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(cfg));
                Safetensors.write(tmp.resolve(UNetWeights.DIFFUSERS_WEIGHTS), weights, meta);
            } else {
                for (Iterator<String> it = cfg.fieldNames(); it.hasNext(); ) if (it.next().startsWith("_")) it.remove(); // not arguments
                AtomicFiles.writeString(tmp.resolve(UNetWeights.MUSETALK_CONFIG), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(cfg));
                TorchWriter.writeStateDict(tmp.resolve(UNetWeights.MUSETALK_WEIGHTS), weights);
            }
            ObjectNode side = JSON.createObjectNode();
            side.put(UNetWeights.PE_KEY, pe == null ? "none" : pe);
            side.put("layout", layout);
            meta.forEach((k, v) -> { if (!k.equals("format") && !k.equals(UNetWeights.PE_KEY)) side.put(k, v); });
            AtomicFiles.writeString(tmp.resolve(UNetWeights.SIDECAR), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(side));
            Path old = null;
            if (Files.exists(abs)) {
                old = abs.resolveSibling(abs.getFileName() + ".old-" + System.nanoTime());
                Files.move(abs, old);
            }
            Files.move(tmp, abs, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            if (old != null) deleteTree(old);
        } catch (IOException | RuntimeException e) {
            deleteTree(tmp);
            throw e;
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
