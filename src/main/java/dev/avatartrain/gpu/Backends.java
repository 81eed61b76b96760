package dev.avatartrain.gpu;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicBoolean;

import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which ND4J backend this JVM runs, and why. ND4J M2.1 loads every backend its service file lists, sorted by
 * priority (CUDA 100, CPU 0; the environment variables {@code BACKEND_PRIORITY_GPU} / {@code BACKEND_PRIORITY_CPU}
 * change them), and takes the first whose {@code isAvailable()} holds: CUDA's holds where libcudart loads and sees a
 * GPU. So the {@code -Pcuda} jar runs CUDA on a GPU node and the CPU on a GPU-less driver or executor, and
 * {@code BACKEND_PRIORITY_CPU=200} forces the CPU anywhere.
 */
public final class Backends {
    private static final Logger LOG = LoggerFactory.getLogger(Backends.class);
    private static final AtomicBoolean LOGGED = new AtomicBoolean();
    private static final AtomicBoolean LOADED = new AtomicBoolean();
    private static final int GPU_PRIORITY_DEFAULT = 100;

    private Backends() {}

    /** Whether ND4J loaded its CUDA backend in this JVM (loads ND4J). */
    public static boolean cudaLoaded() {
        return Nd4j.getBackend().getClass().getName().equals(CudaBuild.BACKEND_CLASS);
    }

    /** "CUDA (nd4j-cuda-11.6 1.0.0-M2.1)" or "CPU (nd4j-native, BLAS OPENBLAS)" (loads ND4J). */
    public static String describe() {
        if (cudaLoaded()) return "CUDA (" + CudaBuild.LIBRARY + ")";
        return "CPU (nd4j-native, BLAS " + Nd4j.factory().blas().getBlasVendor() + ")";
    }

    /**
     * Loads ND4J now. Where the jar has CUDA but this machine shows no GPU, ND4J's CUDA backend is skipped, after its
     * {@code isAvailable()} has printed the stack trace of the missing CUDA driver library: that expected trace is
     * held back (ND4J's one-line warning and {@link #logOnce} still say why CUDA was not taken); all else on stderr
     * in that moment is passed on.
     */
    public static synchronized void load(boolean gpuSeen) {
        if (!CudaBuild.present() || gpuSeen || LOADED.get()) {
            Nd4j.getBackend();
            LOADED.set(true);
            return;
        }
        PrintStream err = System.err;
        ByteArrayOutputStream held = new ByteArrayOutputStream();
        System.setErr(new PrintStream(held, true, StandardCharsets.UTF_8));
        try {
            Nd4j.getBackend();
        } finally {
            System.setErr(err);
            LOADED.set(true);
        }
        boolean trace = false;
        for (String line : held.toString(StandardCharsets.UTF_8).split("\\R")) {
            if (line.startsWith("java.lang.UnsatisfiedLinkError")) trace = true;
            else if (trace && !(line.startsWith("\t") || line.startsWith("Caused by"))) trace = false;
            if (!trace && !line.isEmpty()) err.println(line);
        }
    }

    /**
     * For the CLI's start, before any command touches ND4J: where the jar has CUDA and this machine shows no GPU, loads
     * ND4J now, without the expected stack trace ({@link #load}). Elsewhere ND4J loads later, after the jobs' checks.
     */
    public static void loadEarlyWhereNoGpu() {
        if (CudaBuild.present() && NvidiaSmi.probe().gpus().isEmpty()) load(false);
    }

    /** Logs the backend once per JVM, with the reason the CUDA backend was not taken where the jar has one. */
    public static void logOnce() {
        if (!LOGGED.compareAndSet(false, true)) return;
        String line = "ND4J backend: " + describe();
        if (CudaBuild.present() && !cudaLoaded()) line += "; the jar's CUDA backend was not taken: " + whyNotCuda();
        LOG.info(line);
    }

    /** Why ND4J would not or did not take the CUDA backend here (for messages); null when nothing stands against it. */
    public static String whyNotCuda() {
        if (!CudaBuild.present()) return "this jar has no CUDA backend (built without -Pcuda)";
        if (cpuForced()) return "BACKEND_PRIORITY_CPU (" + System.getenv("BACKEND_PRIORITY_CPU") + ") puts the CPU first";
        NvidiaSmi.Probe probe = NvidiaSmi.probe();
        if (probe.gpus().isEmpty()) return "no GPU seen (" + (probe.problem() != null ? probe.problem() : "nvidia-smi lists none") + ")";
        String missing = cudaLoadProblem();
        return missing != null ? "the CUDA libraries did not load (" + missing + ")" : null;
    }

    /** Whether the environment puts ND4J's CPU backend ahead of CUDA ({@code BACKEND_PRIORITY_CPU/GPU}). */
    public static boolean cpuForced() {
        return priority("BACKEND_PRIORITY_CPU", 0) > priority("BACKEND_PRIORITY_GPU", GPU_PRIORITY_DEFAULT);
    }

    /**
     * The error loading CUDA's runtime through the JavaCPP bindings ND4J uses (libcudart, cuBLAS), or null when they
     * load. Reflective: the bindings are in the jar only with {@code -Pcuda}.
     */
    static String cudaLoadProblem() {
        for (String lib : new String[]{"org.bytedeco.cuda.global.cudart", "org.bytedeco.cuda.global.cublas"}) {
            try {
                Class<?> c = Class.forName(lib, false, Backends.class.getClassLoader());
                org.bytedeco.javacpp.Loader.load(c);
            } catch (ClassNotFoundException e) {
                return "no JavaCPP CUDA bindings in the jar";
            } catch (Throwable t) {
                Throwable root = t;
                while (root.getCause() != null) root = root.getCause();
                return root.getMessage() != null ? root.getMessage() : root.toString();
            }
        }
        return null;
    }

    private static int priority(String env, int dflt) {
        String v = System.getenv(env);
        if (v == null || v.isBlank()) return dflt;
        try {
            return Integer.parseInt(v.strip());
        } catch (NumberFormatException e) {
            return dflt; // ND4J itself fails on it at start-up, with its own message
        }
    }
}
