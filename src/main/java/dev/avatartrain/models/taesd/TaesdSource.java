package dev.avatartrain.models.taesd;

import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.apache.hadoop.conf.Configuration;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.hub.HubFiles;
import dev.avatartrain.storage.AtomicFiles;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.storage.StorageUrl;
import dev.avatartrain.tensors.TensorFiles;

/**
 * Where the frozen TAESD comes from: {@code model.vae_pretrained_model_name_or_path}. Accepted values:
 * <ul>
 * <li>{@code random} or {@code random:SEED}: a seeded random TAESD (4 latent channels), for the demo and tests;</li>
 * <li>a local folder holding taesd.py's {@code *encoder.pth} + {@code *decoder.pth} or a diffusers
 * {@code AutoencoderTiny} {@code diffusion_pytorch_model.safetensors};</li>
 * <li>a Hugging Face repo id such as {@code madebyollin/taesd} ({@code owner/name[@revision][:subfolder]}), downloaded
 * into the shared hub cache by {@link HubFiles} (its diffusers file, else {@code taesd_encoder.pth} + {@code taesd_decoder.pth});</li>
 * <li>a storage URL ({@code s3a://}, {@code hdfs://}, {@code https://}, ...) of a folder with the same files, copied to a
 * local cache once.</li>
 * </ul>
 * The {@link #key()} names the weights (content hash) so latents encoded with other weights are never mixed.
 */
public record TaesdSource(String spec, Path encoderFile, Path decoderFile, long seed, String key) implements Serializable {
    private static final String DIFFUSERS_FILE = "diffusion_pytorch_model.safetensors";
    /** The encoder's and the decoder's weights in a folder or repo, in the order looked for (diffusers', the authors'). */
    public static final List<String> ENCODER_FILES = List.of(DIFFUSERS_FILE, "taesd_encoder.pth"),
            DECODER_FILES = List.of(DIFFUSERS_FILE, "taesd_decoder.pth");

    public boolean isRandom() {
        return encoderFile == null;
    }

    public String describe() {
        return isRandom() ? "a seeded random TAESD (seed " + seed + ", 4 latent channels): set model.vae_pretrained_model_name_or_path to real weights"
                : "TAESD weights " + encoderFile + (encoderFile.equals(decoderFile) ? "" : " + " + decoderFile);
    }

    public Taesd.Model encoder() {
        return isRandom() ? Taesd.encoder(new Taesd.Config(4, false), DataType.FLOAT, seed)
                : Taesd.loadEncoder(weights(encoderFile), encoderFile.toString(), DataType.FLOAT);
    }

    public Taesd.Model decoder() {
        return isRandom() ? Taesd.decoder(new Taesd.Config(4, false), DataType.FLOAT, seed + 1)
                : Taesd.loadDecoder(weights(decoderFile), decoderFile.toString(), DataType.FLOAT);
    }

    private static Map<String, INDArray> weights(Path file) {
        return TensorFiles.read(file, DataType.FLOAT);
    }

    /** Resolves the configured value; {@code cacheDir} receives remote copies. */
    public static TaesdSource resolve(String spec, Path cacheDir, Configuration hadoop) {
        if (spec == null || spec.isBlank()) {
            throw new BadInputException("model.yaml: vae_pretrained_model_name_or_path is empty; give a folder, a Hugging Face repo id"
                    + " (e.g. madebyollin/taesd), a storage URL of a folder, or \"random\"");
        }
        if (spec.equals("random") || spec.startsWith("random:")) {
            long seed = spec.equals("random") ? 0 : Long.parseLong(spec.substring(7));
            return new TaesdSource(spec, null, null, seed, "random-" + seed);
        }
        Path enc, dec;
        if (!spec.contains("://") && !Files.exists(Path.of(spec)) && HubFiles.isRepoId(spec)) {
            enc = HubFiles.resolveWeightsFile(spec, ENCODER_FILES, hadoop);
            dec = HubFiles.resolveWeightsFile(spec, DECODER_FILES, hadoop);
        } else {
            Path folder = localFolder(spec, cacheDir, hadoop);
            List<Path> files = list(folder);
            Path diffusers = find(files, DIFFUSERS_FILE);
            enc = diffusers != null ? diffusers : findSuffix(files, "encoder.pth");
            dec = diffusers != null ? diffusers : findSuffix(files, "decoder.pth");
            if (enc == null || dec == null) {
                throw new BadInputException(spec + ": no TAESD weights in " + folder + " (expected " + DIFFUSERS_FILE + ","
                        + " or *encoder.pth and *decoder.pth); found " + files.stream().map(p -> p.getFileName().toString()).toList());
            }
        }
        String key = enc.equals(dec) ? sha256(enc) : sha256(enc) + sha256(dec);
        return new TaesdSource(spec, enc, dec, 0, "taesd-" + key.substring(0, 16));
    }

    private static Path localFolder(String spec, Path cacheDir, Configuration hadoop) {
        StorageUrl url = StorageUrl.parse(spec, "model.vae_pretrained_model_name_or_path");
        if (!url.isLocal()) {
            return copyRemote(spec, cacheDir, hadoop);
        }
        Path p = Path.of(spec);
        if (Files.isDirectory(p)) return p;
        if (Files.isRegularFile(p)) return p.getParent() == null ? Path.of(".") : p.getParent();
        throw new BadInputException("model.yaml: vae_pretrained_model_name_or_path: " + spec + " does not exist: give a folder with"
                + " taesd_encoder.pth/taesd_decoder.pth or " + DIFFUSERS_FILE + ", a storage URL of such a folder, a Hugging Face repo id"
                + " (owner/name[@revision][:subfolder]) or \"random\" for a seeded random TAESD");
    }

    private static Path copyRemote(String spec, Path cacheDir, Configuration hadoop) {
        Path target = cacheDir.resolve("vae-" + Integer.toHexString(spec.hashCode()));
        try (Storage storage = Storage.forUrl(spec, hadoop)) {
            Files.createDirectories(target);
            for (String name : storage.list("")) {
                if (!(name.endsWith(".pth") || name.endsWith(".safetensors"))) continue;
                Path local = target.resolve(name);
                if (Files.exists(local)) continue;
                try (InputStream in = storage.open(name)) {
                    AtomicFiles.write(local, in::transferTo);
                }
            }
            return target;
        } catch (IOException e) {
            throw new BadInputException(spec + ": cannot copy TAESD weights: " + e.getMessage(), e);
        }
    }

    private static List<Path> list(Path folder) {
        try (Stream<Path> s = Files.list(folder)) {
            return new ArrayList<>(s.filter(Files::isRegularFile).sorted().toList());
        } catch (IOException e) {
            throw new BadInputException(folder + ": cannot list: " + e.getMessage(), e);
        }
    }

    private static Path find(List<Path> files, String name) {
        return files.stream().filter(p -> p.getFileName().toString().equals(name)).findFirst().orElse(null);
    }

    private static Path findSuffix(List<Path> files, String suffix) {
        return files.stream().filter(p -> p.getFileName().toString().endsWith(suffix)).findFirst().orElse(null);
    }

    private static String sha256(Path file) {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
            return HexFormat.of().formatHex(md.digest());
        } catch (IOException | java.security.NoSuchAlgorithmException e) {
            throw new BadInputException(file + ": cannot read: " + e.getMessage(), e);
        }
    }
}
