package dev.avatartrain.models.cuda;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

import dev.avatartrain.errors.BadInputException;

/**
 * Compiles the kernel families ({@link KernelFamily}) to CUBIN for one GPU architecture ({@code sm_XX}) with NVRTC,
 * the way the backend does at start-up: machine code for the exact GPU, no PTX JIT by the driver. Results are cached
 * in memory and, when a folder is given, on disk under a key of the NVRTC version, the options and the sources, so a
 * worker compiles each family once per architecture and version.
 */
public final class KernelCompiler {
    private static final Pattern ARCH = Pattern.compile("sm_[0-9]{2,3}[a-z]?");
    /** float32 math as written (no fast-math): the kernels are checked against the CPU tape within tight bounds. */
    private static final List<String> OPTIONS = List.of("--std=c++17");

    private final Nvrtc nvrtc;
    private final Path cacheDir;
    private final Map<String, byte[]> memory = new ConcurrentHashMap<>();

    /** @param cacheDir where compiled CUBINs are kept between runs, or null for memory only */
    KernelCompiler(Nvrtc nvrtc, Path cacheDir) {
        this.nvrtc = nvrtc;
        this.cacheDir = cacheDir;
    }

    /** NVRTC where {@link CudaLibraries} finds it; CUBINs cached in {@code ~/.cache/avatar-train/cuda}. */
    public static KernelCompiler locate() {
        return new KernelCompiler(Nvrtc.locate(), Path.of(System.getProperty("user.home"), ".cache", "avatar-train",
                "cuda"));
    }

    public String nvrtcVersion() {
        return nvrtc.version();
    }

    /** {@code sm_90} for compute capability 9.0. */
    public static String arch(int major, int minor) {
        return "sm_" + major + minor;
    }

    /** Fails with a clear message unless {@code arch} looks like {@code sm_90}. */
    static String checkArch(String arch) {
        if (!ARCH.matcher(arch).matches()) {
            throw new BadInputException("\"" + arch + "\" is not a GPU architecture; write it as sm_XX, e.g. sm_90 "
                    + "(H100/H200), sm_100 (B200), sm_80 (A100).");
        }
        return arch;
    }

    /** The CUBIN of {@code family} for {@code arch}, compiled once. */
    public byte[] compile(KernelFamily family, String arch) {
        checkArch(arch);
        String source = family.source();
        String header = KernelFamily.header();
        String[] options = options(arch);
        String key = arch + "-" + family.fileName() + "-" + digest(nvrtc.version(), String.join(" ", options), header,
                source);
        return memory.computeIfAbsent(key, k -> {
            byte[] cached = readCache(k);
            if (cached != null) {
                return cached;
            }
            byte[] cubin = nvrtc.compileToCubin(family.fileName(), source, new String[] {KernelFamily.HEADER},
                    new String[] {header}, options);
            writeCache(k, cubin);
            return cubin;
        });
    }

    private static String[] options(String arch) {
        String[] o = OPTIONS.toArray(new String[OPTIONS.size() + 1]);
        o[OPTIONS.size()] = "--gpu-architecture=" + arch;
        return o;
    }

    private byte[] readCache(String key) {
        if (cacheDir == null) {
            return null;
        }
        Path f = cacheDir.resolve(key + ".cubin");
        try {
            return Files.isRegularFile(f) ? Files.readAllBytes(f) : null;
        } catch (IOException e) {
            return null; // an unreadable cache entry is compiled again
        }
    }

    private void writeCache(String key, byte[] cubin) {
        if (cacheDir == null) {
            return;
        }
        try {
            Files.createDirectories(cacheDir);
            Path tmp = Files.createTempFile(cacheDir, key, ".tmp");
            Files.write(tmp, cubin);
            Files.move(tmp, cacheDir.resolve(key + ".cubin"), StandardCopyOption.ATOMIC_MOVE,
                    StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("could not write the kernel cache in " + cacheDir, e);
        }
    }

    private static String digest(String... parts) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (String p : parts) {
                md.update(p.getBytes(StandardCharsets.UTF_8));
                md.update((byte) 0);
            }
            return HexFormat.of().formatHex(md.digest(), 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
