package dev.avatartrain.hub;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

import org.apache.hadoop.conf.Configuration;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.storage.AtomicFiles;
import dev.avatartrain.storage.Storage;

/**
 * Where weights come from, for every option that takes them ({@code model.vae_pretrained_model_name_or_path},
 * {@code model.unet_pretrained_model_name_or_path}, {@code train-adapter --init-weights}, {@code forward --weights},
 * {@code export --checkpoint}): one file ({@link #resolveWeightsFile}) or a folder's files ({@link #resolveFirst}).
 * A spec is, tried in this order:
 * <ol>
 * <li>a local folder or file that exists;</li>
 * <li>a storage URL ({@code s3a://}, {@code hdfs://}, {@code https://} bucket, ... anything {@link Storage} reads):
 * the files are copied once into {@code java.io.tmpdir/avatar-train-weights/<hash of the URL>/};</li>
 * <li>a Hugging Face repo id {@code owner/name[@revision][:path]} ({@link HubSpec}), downloaded into the hub cache
 * as {@code huggingface_hub} does ({@link HubClient}, settings from {@link HubEnv}).</li>
 * </ol>
 * Every method returns local paths. Executors may call them too: downloads are atomic, so concurrent tasks on
 * one node share the cache safely (pass {@code HF_TOKEN} etc. to executors with {@code spark.executorEnv.*}).
 */
public final class HubFiles {
    private HubFiles() {}

    /** True when {@code spec} has the syntax of a hub repo id ({@code owner/name[@revision][:path]}); nothing is checked. */
    public static boolean isRepoId(String spec) {
        return HubSpec.isRepoId(spec);
    }

    /**
     * The local paths of {@code wantedFiles} (relative to the folder, or to the repo's subfolder) in the order given.
     * Fails with a message naming the spec, the file and the cause when one is missing.
     */
    public static List<Path> resolve(String spec, List<String> wantedFiles, Configuration hadoop) {
        return resolve(spec, wantedFiles, hadoop, HubEnv.fromSystem());
    }

    /** {@link #resolve(String, List, Configuration)} with explicit hub settings (tests, tools). */
    public static List<Path> resolve(String spec, List<String> wantedFiles, Configuration hadoop, HubEnv env) {
        if (spec == null || spec.isBlank()) throw new BadInputException("no weights given (empty value)");
        Path local = Path.of(spec.startsWith("file://") ? spec.substring(7) : spec);
        if (!spec.contains("://") || spec.startsWith("file://")) {
            if (Files.isDirectory(local)) {
                List<Path> out = new ArrayList<>();
                for (String f : wantedFiles) {
                    Path p = local.resolve(f);
                    if (!Files.isRegularFile(p)) throw new HubFileNotFoundException(spec + ": no file " + f + " in the folder " + local);
                    out.add(p);
                }
                return out;
            }
            if (Files.exists(local)) throw new BadInputException(spec + " is a file; a folder holding " + wantedFiles + " is needed here");
        }
        if (spec.contains("://")) return copyFromStorage(spec, wantedFiles, hadoop);
        if (isRepoId(spec)) {
            HubSpec hub = HubSpec.parse(spec);
            HubClient client = new HubClient(env);
            List<Path> out = new ArrayList<>();
            for (String f : wantedFiles) out.add(client.file(hub.repoId(), hub.revision(), hub.inRepo(f)));
            return out;
        }
        throw new BadInputException(spec + " does not exist: give a local folder, a storage URL (s3a://, hdfs://, gs://, ...)"
                + " or a Hugging Face repo id owner/name[@revision][:subfolder]");
    }

    /**
     * The first of several alternative file sets that exists (e.g. a diffusers {@code diffusion_pytorch_model.safetensors}
     * or a pair of {@code .pth} files); the error lists every set tried.
     */
    public static List<Path> resolveFirst(String spec, List<List<String>> alternatives, Configuration hadoop) {
        return resolveFirst(spec, alternatives, hadoop, HubEnv.fromSystem());
    }

    public static List<Path> resolveFirst(String spec, List<List<String>> alternatives, Configuration hadoop, HubEnv env) {
        List<String> tried = new ArrayList<>();
        for (List<String> files : alternatives) {
            try {
                return resolve(spec, files, hadoop, env);
            } catch (HubFileNotFoundException e) {
                tried.add(files + " (" + e.getMessage() + ")");
            }
        }
        throw new HubFileNotFoundException(spec + ": none of the expected files were found; tried " + String.join("; ", tried));
    }

    /**
     * One weights file, from any spec that takes weights: a local file or folder, a storage URL of a file or folder, a
     * repo id {@code owner/name[@revision]} with an optional {@code :subfolder} or {@code :path/file.safetensors}. A
     * folder (or repo, or subfolder) gives the first of {@code knownNames} it holds, the file names the model's authors
     * and diffusers use for that kind of model (e.g. {@code diffusion_pytorch_model.safetensors}, then
     * {@code taesd_encoder.pth}), as {@code from_pretrained} finds them.
     */
    public static Path resolveWeightsFile(String spec, List<String> knownNames, Configuration hadoop) {
        return resolveWeightsFile(spec, knownNames, hadoop, HubEnv.fromSystem());
    }

    public static Path resolveWeightsFile(String spec, List<String> knownNames, Configuration hadoop, HubEnv env) {
        if (spec == null || spec.isBlank()) throw new BadInputException("no weights given (empty value)");
        boolean url = spec.contains("://") && !spec.startsWith("file://");
        Path local = Path.of(spec.startsWith("file://") ? spec.substring(7) : spec);
        if (!url && Files.isRegularFile(local)) return local;
        if (url && isWeightsFile(spec)) {
            int slash = spec.lastIndexOf('/');
            return copyFromStorage(spec.substring(0, slash), List.of(spec.substring(slash + 1)), hadoop).get(0);
        }
        if (!url && !Files.exists(local) && isRepoId(spec)) {
            HubSpec hub = HubSpec.parse(spec);
            if (hub.path() != null && isWeightsFile(hub.path())) return new HubClient(env).file(hub.repoId(), hub.revision(), hub.path());
        } else if (!url && !Files.isDirectory(local)) {
            throw new BadInputException(spec + " does not exist: give a weights file or folder (local or a storage URL) or a"
                    + " Hugging Face repo id owner/name[@revision][:subfolder or :file.safetensors]");
        }
        List<List<String>> each = knownNames.stream().map(List::of).toList();
        return resolveFirst(spec, each, hadoop, env).get(0);
    }

    private static boolean isWeightsFile(String name) {
        return name.toLowerCase(java.util.Locale.ROOT).matches(".*\\.(safetensors|bin|pt|pth)");
    }

    private static List<Path> copyFromStorage(String folderUrl, List<String> files, Configuration hadoop) {
        Path target = Path.of(System.getProperty("java.io.tmpdir"), "avatar-train-weights", sha256(folderUrl).substring(0, 16));
        List<Path> out = new ArrayList<>();
        try (Storage storage = Storage.forUrl(folderUrl, hadoop)) {
            for (String name : files) {
                Path local = target.resolve(name);
                if (!Files.isRegularFile(local)) {
                    if (!storage.exists(name)) throw new HubFileNotFoundException(folderUrl + ": no file " + name);
                    try (InputStream in = storage.open(name)) {
                        AtomicFiles.write(local, in::transferTo);
                    }
                }
                out.add(local);
            }
            return out;
        } catch (IOException e) {
            throw new BadInputException(folderUrl + ": cannot copy " + files + ": " + e.getMessage(), e);
        }
    }

    static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
