package dev.avatartrain.encode;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.avatartrain.data.ClipLatents;
import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.tensors.Safetensors;

/**
 * The latent cache under {@code output_dir}: {@code latents/<vae key>-<size>px/<clip>.safetensors} per clip
 * (tensors {@code latents}, {@code masked_latents}, {@code audio}; frame names and the frames that were skipped
 * in the header metadata) and {@code index.json} listing the clips with each clip's per-frame audio shape. The folder
 * name carries the VAE weights' hash and the image size, so latents of other weights or sizes are never mixed in.
 */
public final class LatentStore {
    public static final String FORMAT = "avatar-train-latents/1";
    public static final String INDEX = "index.json";
    /** {@code index.json}'s format: 1 had no version and no audio shapes; 2 records {@code audioShape} per clip. */
    public static final int INDEX_FORMAT_VERSION = 2;
    private static final ObjectMapper JSON = new ObjectMapper()
            .configure(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    /** A frame left out of a clip, with why. */
    public record Skipped(String path, String reason) implements java.io.Serializable {}

    /** One clip of the index; {@code audioShape} is one frame's audio features {@code [tokens, dim]} (null in format 1). */
    public record IndexEntry(String clip, String file, int frames, int skipped, String sourceHash, long[] audioShape) {}

    /** The index: what {@code encode} produced. */
    public record Index(String vae, int imageSize, List<IndexEntry> clips, int formatVersion) {}

    private LatentStore() {}

    /** {@code latents/<vae key>-<size>px}, relative to {@code output_dir}. */
    public static String folder(String vaeKey, int imageSize) {
        return "latents/" + vaeKey + "-" + imageSize + "px";
    }

    public static String clipFile(String clip) {
        return dev.avatartrain.storage.SafePaths.name(clip, "clip name") + ".safetensors";
    }

    public static void writeClip(Storage out, String folder, ClipLatents clip, List<Skipped> skipped, String vaeKey,
                                 int imageSize, String sourceHash) throws IOException {
        Map<String, INDArray> tensors = new LinkedHashMap<>();
        tensors.put("latents", clip.latents());
        tensors.put("masked_latents", clip.maskedLatents());
        tensors.put("audio", clip.audio());
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        meta.put("clip", clip.clip());
        meta.put("frames", JSON.writeValueAsString(clip.frameNames()));
        meta.put("skipped", JSON.writeValueAsString(skipped));
        meta.put("vae", vaeKey);
        meta.put("image_size", String.valueOf(imageSize));
        meta.put("source_hash", sourceHash);
        out.write(folder + "/" + clipFile(clip.clip()), o -> Safetensors.write(o, tensors, meta));
    }

    public static ClipLatents readClip(Storage in, String folder, String clip) {
        String rel = folder + "/" + clipFile(clip);
        try (InputStream s = in.open(rel)) {
            Safetensors.SafetensorsFile f = Safetensors.read(s, rel, DataType.FLOAT);
            Map<String, String> meta = f.metadata();
            if (!FORMAT.equals(meta.get("format"))) {
                throw new BadInputException(rel + ": not an avatar-train latent file (format " + meta.get("format") + ")");
            }
            List<String> frames = JSON.readValue(meta.get("frames"), new TypeReference<List<String>>() {});
            return new ClipLatents(clip, frames, need(f, "latents", rel), need(f, "masked_latents", rel), need(f, "audio", rel));
        } catch (IOException e) {
            throw new BadInputException(rel + ": cannot read latents: " + e.getMessage(), e);
        }
    }

    /** The header metadata of a clip file (null when absent), without reading its tensors. */
    public static Map<String, String> readClipMetadata(Storage in, String folder, String clip) {
        String rel = folder + "/" + clipFile(clip);
        try {
            if (!in.exists(rel)) return null;
            try (InputStream s = in.open(rel)) {
                return Safetensors.readMetadata(s, rel);
            }
        } catch (IOException | BadInputException e) {
            return null; // unreadable counts as absent: the clip is encoded again
        }
    }

    /** One frame's audio shape {@code [tokens, dim]} of a clip file, from its header only. */
    public static long[] readAudioShape(Storage in, String folder, String clip) {
        String rel = folder + "/" + clipFile(clip);
        try (InputStream s = in.open(rel)) {
            Safetensors.Entry e = Safetensors.describe(s, rel).get("audio");
            if (e == null) throw new BadInputException(rel + ": tensor \"audio\" missing");
            return java.util.Arrays.copyOfRange(e.shape(), 1, e.shape().length);
        } catch (IOException e) {
            throw new BadInputException(rel + ": cannot read latents: " + e.getMessage(), e);
        }
    }

    private static INDArray need(Safetensors.SafetensorsFile f, String name, String file) {
        INDArray a = f.tensors().get(name);
        if (a == null) throw new BadInputException(file + ": tensor \"" + name + "\" missing");
        return a;
    }

    public static void writeIndex(Storage out, String folder, Index index) throws IOException {
        byte[] bytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(index);
        out.write(folder + "/" + INDEX, o -> o.write(bytes));
    }

    public static Index readIndex(Storage in, String folder) {
        String rel = folder + "/" + INDEX;
        try {
            if (!in.exists(rel)) {
                throw new BadInputException(rel + " (under " + in.locations().get(0) + "): no latent index; run `avatar-train encode` first"
                        + " (with the same VAE weights and IMAGE_SIZE)");
            }
            com.fasterxml.jackson.databind.JsonNode n = JSON.readTree(in.readAll(rel));
            int version = n == null ? 1 : n.path("formatVersion").asInt(1);
            if (version > INDEX_FORMAT_VERSION) {
                throw new BadInputException(rel + ": latent index format " + version + " was written by a newer avatar-train; this version"
                        + " reads formats up to " + INDEX_FORMAT_VERSION + ". Run this version's `encode` into a new output_dir, or use"
                        + " the newer avatar-train.");
            }
            return JSON.treeToValue(n, Index.class);
        } catch (IOException e) {
            throw new BadInputException(rel + ": cannot read latent index: " + e.getMessage(), e);
        }
    }

    public static List<String> clipNames(Index index) {
        List<String> out = new ArrayList<>();
        for (IndexEntry e : index.clips()) out.add(e.clip());
        return out;
    }
}
