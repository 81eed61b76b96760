package dev.avatartrain.models.cuda;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import com.sun.jna.Function;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.LongByReference;
import com.sun.jna.ptr.PointerByReference;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.models.cuda.CudaLibraries.Library;

/**
 * NVRTC (CUDA C to CUBIN) through JNA on the library file itself. Not through JavaCPP's
 * {@code org.bytedeco.cuda.global.nvrtc}: its class initialiser loads JavaCPP's cudart wrapper, which links
 * {@code libcuda.so.1}, the driver, so it cannot load on a machine without a GPU driver (CI); NVRTC itself needs no
 * GPU. The same binding compiles in CI and on the workers, so both use the same NVRTC. Seven C functions are bound;
 * JNA (already on the classpath through ND4J) calls them by name.
 */
final class Nvrtc {
    private static final int SUCCESS = 0;
    private final NativeLibrary lib;
    private final String version;

    /** Loads NVRTC from {@code dir} (which holds {@code libnvrtc.so.13} and its builtins). */
    Nvrtc(Path dir) {
        this(dir.resolve(Library.NVRTC.file), dir.resolve(Library.NVRTC_BUILTINS.file));
    }

    private Nvrtc(Path nvrtc, Path builtins) {
        // The builtins first, by path: NVRTC dlopen()s them by soname, which then finds them already loaded, so no
        // LD_LIBRARY_PATH is needed (without it NVRTC fails with "failed to open libnvrtc-builtins.so.13.0").
        try {
            NativeLibrary.getInstance(builtins.toAbsolutePath().toString());
            this.lib = NativeLibrary.getInstance(nvrtc.toAbsolutePath().toString());
        } catch (UnsatisfiedLinkError e) {
            throw new BadInputException("NVRTC in " + nvrtc.getParent() + " could not be loaded (" + e.getMessage()
                    + "); install it with pip install nvidia-cuda-nvrtc.");
        }
        IntByReference major = new IntByReference();
        IntByReference minor = new IntByReference();
        check(fn("nvrtcVersion").invokeInt(new Object[] {major, minor}), "nvrtcVersion", null);
        this.version = major.getValue() + "." + minor.getValue();
    }

    /** NVRTC from the folder {@link CudaLibraries} finds it in. */
    static Nvrtc locate() {
        return new Nvrtc(CudaLibraries.find(Library.NVRTC), CudaLibraries.find(Library.NVRTC_BUILTINS));
    }

    /** e.g. "13.0". */
    String version() {
        return version;
    }

    /**
     * Compiles {@code source} (named {@code name} in messages) with the given headers and options to a CUBIN, or throws
     * {@link KernelCompileException} with NVRTC's log.
     */
    byte[] compileToCubin(String name, String source, String[] headerNames, String[] headers, String[] options) {
        PointerByReference prog = new PointerByReference();
        check(fn("nvrtcCreateProgram").invokeInt(new Object[] {prog, source, name, headers.length,
                headers.length == 0 ? null : headers, headerNames.length == 0 ? null : headerNames}),
                "nvrtcCreateProgram", name);
        Pointer p = prog.getValue();
        try {
            int status = fn("nvrtcCompileProgram").invokeInt(new Object[] {p, options.length, options});
            if (status != SUCCESS) {
                throw new KernelCompileException(name + ": NVRTC " + version + " failed (" + errorString(status)
                        + ") with " + String.join(" ", options) + ":\n" + log(p));
            }
            LongByReference size = new LongByReference();
            check(fn("nvrtcGetCUBINSize").invokeInt(new Object[] {p, size}), "nvrtcGetCUBINSize", name);
            byte[] cubin = new byte[(int) size.getValue()];
            check(fn("nvrtcGetCUBIN").invokeInt(new Object[] {p, cubin}), "nvrtcGetCUBIN", name);
            return cubin;
        } finally {
            fn("nvrtcDestroyProgram").invokeInt(new Object[] {prog});
        }
    }

    private String log(Pointer p) {
        LongByReference size = new LongByReference();
        fn("nvrtcGetProgramLogSize").invokeInt(new Object[] {p, size});
        byte[] log = new byte[(int) size.getValue()];
        fn("nvrtcGetProgramLog").invokeInt(new Object[] {p, log});
        int end = log.length > 0 && log[log.length - 1] == 0 ? log.length - 1 : log.length;
        return new String(log, 0, end, StandardCharsets.UTF_8).strip();
    }

    private String errorString(int status) {
        return fn("nvrtcGetErrorString").invokePointer(new Object[] {status}).getString(0);
    }

    private void check(int status, String call, String name) {
        if (status != SUCCESS) {
            throw new KernelCompileException(call + (name == null ? "" : " for " + name) + " failed: "
                    + (lib == null ? "status " + status : errorString(status)));
        }
    }

    private Function fn(String name) {
        return lib.getFunction(name);
    }
}
