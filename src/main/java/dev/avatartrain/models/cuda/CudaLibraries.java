package dev.avatartrain.models.cuda;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import dev.avatartrain.errors.BadInputException;

/**
 * Finds the CUDA libraries by file name (soname) in the folders a worker usually has them: those named by the
 * system property {@value #PATH_PROPERTY} (path-separator list), {@code LD_LIBRARY_PATH}, the CUDA toolkit
 * ({@code /usr/local/cuda}) and the system's library folders. The libraries are not on Maven Central; workers get them
 * from their image or NVIDIA's {@code nvidia-*} wheels ({@code site-packages/nvidia/cu13/lib}). A library that is
 * missing is a {@link BadInputException} naming the file, where it comes from and how to point us at it, before any
 * native code is loaded (never a JVM crash).
 */
public final class CudaLibraries {
    /** Extra folders to search first, e.g. {@code -Davatartrain.cuda.path=/opt/venv/lib/python3.11/site-packages/nvidia/cu13/lib}. */
    public static final String PATH_PROPERTY = "avatartrain.cuda.path";

    private static final List<String> STANDARD = List.of("/usr/local/cuda/lib64",
            "/usr/local/cuda/targets/x86_64-linux/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib");

    /** The libraries the backend loads: file name and the wheel (or package) that carries it. */
    public enum Library {
        NVRTC("libnvrtc.so.13", "nvidia-cuda-nvrtc"),
        NVRTC_BUILTINS("libnvrtc-builtins.so.13.0", "nvidia-cuda-nvrtc"),
        DRIVER("libcuda.so.1", "the NVIDIA driver (>= 580 for CUDA 13)"),
        CUDART("libcudart.so.13", "nvidia-cuda-runtime"),
        CUBLAS("libcublas.so.13", "nvidia-cublas"),
        CUBLASLT("libcublasLt.so.13", "nvidia-cublas"),
        CUDNN("libcudnn.so.9", "nvidia-cudnn-cu13"),
        NCCL("libnccl.so.2", "nvidia-nccl-cu13");

        public final String file;
        public final String source;

        Library(String file, String source) {
            this.file = file;
            this.source = source;
        }
    }

    private CudaLibraries() {
    }

    /** The folders searched, in order. */
    public static List<Path> searchPath() {
        Set<String> dirs = new LinkedHashSet<>();
        split(System.getProperty(PATH_PROPERTY), dirs);
        split(System.getenv("LD_LIBRARY_PATH"), dirs);
        dirs.addAll(STANDARD);
        List<Path> out = new ArrayList<>();
        for (String d : dirs) {
            out.add(Path.of(d));
        }
        return out;
    }

    private static void split(String list, Set<String> into) {
        if (list != null) {
            for (String d : list.split(File.pathSeparator)) {
                if (!d.isBlank()) {
                    into.add(d.trim());
                }
            }
        }
    }

    /** The first {@code lib.file} on {@link #searchPath()}, or a {@link BadInputException} that says how to get it. */
    public static Path find(Library lib) {
        return find(lib, searchPath());
    }

    static Path find(Library lib, List<Path> dirs) {
        for (Path d : dirs) {
            Path f = d.resolve(lib.file);
            if (Files.isRegularFile(f)) {
                return f.toAbsolutePath();
            }
        }
        throw new BadInputException(missing(lib, dirs));
    }

    static String missing(Library lib, List<Path> dirs) {
        String fix = lib == Library.DRIVER
                ? "install the NVIDIA driver (a GPU image has it)"
                : "pip install " + lib.source + " and name the folder that holds it (under site-packages/nvidia/) with -D"
                        + PATH_PROPERTY + "=... (or LD_LIBRARY_PATH), or use an image with CUDA 13 in /usr/local/cuda";
        return lib.file + " (" + lib.source + ") was not found in " + dirs + ": " + fix + ".";
    }
}
