package dev.avatartrain.models.cuda;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.models.cuda.CudaLibraries.Library;

/**
 * What this machine offers the CUDA backend, as lines for {@code avatar-train env}: each library's file (or what to
 * install), NVRTC's version, and, where the driver is present, every GPU with its architecture and whether the backend
 * can use it (compute capability 8.0 or newer). Never throws for a missing library: that is what it reports.
 */
public final class CudaEnvironment {
    private CudaEnvironment() {
    }

    public static List<String> describe() {
        List<String> out = new ArrayList<>();
        for (Library lib : Library.values()) {
            try {
                Path p = CudaLibraries.find(lib);
                out.add(lib.file + ": " + p + (lib == Library.NVRTC ? " (NVRTC " + Nvrtc.locate().version() + ")"
                        : ""));
            } catch (BadInputException e) {
                out.add(lib.file + ": missing — " + e.getMessage());
            }
        }
        try {
            CudaLibraries.find(Library.DRIVER);
            CudaLibraries.find(Library.CUDART);
            out.addAll(gpus());
        } catch (BadInputException e) {
            out.add("GPUs: none usable (no driver or CUDA runtime found)");
        }
        return out;
    }

    private static List<String> gpus() {
        CudaDevice.preload(Library.DRIVER, Library.CUDART);
        List<String> out = new ArrayList<>();
        int[] count = {0};
        int status = org.bytedeco.cuda.global.cudart.cudaGetDeviceCount(count);
        if (status != 0) {
            out.add("GPUs: none usable (" + org.bytedeco.cuda.global.cudart.cudaGetErrorString(status).getString()
                    + ")");
            return out;
        }
        for (int i = 0; i < count[0]; i++) {
            int[] major = {0};
            int[] minor = {0};
            org.bytedeco.cuda.global.cudart.cudaDeviceGetAttribute(major,
                    org.bytedeco.cuda.global.cudart.cudaDevAttrComputeCapabilityMajor, i);
            org.bytedeco.cuda.global.cudart.cudaDeviceGetAttribute(minor,
                    org.bytedeco.cuda.global.cudart.cudaDevAttrComputeCapabilityMinor, i);
            org.bytedeco.cuda.cudart.cudaDeviceProp props = new org.bytedeco.cuda.cudart.cudaDeviceProp();
            org.bytedeco.cuda.global.cudart.cudaGetDeviceProperties(props, i);
            out.add("GPU " + i + ": " + props.name().getString() + ", " + KernelCompiler.arch(major[0], minor[0])
                    + (major[0] >= CudaDevice.MIN_MAJOR ? ", usable" : ", not usable (compute capability below 8.0)"));
        }
        return out;
    }

    public static void main(String[] args) {
        describe().forEach(System.out::println);
    }
}
