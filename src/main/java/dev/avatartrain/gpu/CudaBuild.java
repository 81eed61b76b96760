package dev.avatartrain.gpu;

/**
 * The CUDA code this build carries, and which GPUs it runs on. nd4j-cuda-11.6 1.0.0-M2.1 (the {@code cuda} Maven
 * profile) holds machine code for sm_37 … sm_86 and no PTX, so the driver cannot compile it for newer GPUs: it runs
 * where the compute capability is at least 3.7 and its major version at most 8 (sm_86 code runs on sm_89: L4, L40S),
 * never on 9.x (H100, H200) or later.
 */
public final class CudaBuild {
    /** ND4J's CUDA backend class: present in the jar only when built with {@code -Pcuda}. */
    static final String BACKEND_CLASS = "org.nd4j.linalg.jcublas.JCublasBackend";
    /** The artifact, as messages name it. */
    public static final String LIBRARY = "nd4j-cuda-11.6 1.0.0-M2.1";
    /** What it covers, as messages say it. */
    public static final String COVERAGE = "machine code for sm_37 to sm_86 and no PTX: compute capability 3.7 to 8.x";
    /** The CUDA libraries it loads (CUDA 11.x, cuDNN 8), as messages name them. */
    public static final String RUNTIME = "CUDA 11.x (libcudart.so.11.0, libcublas.so.11, libcusolver.so.11) and cuDNN 8 (libcudnn.so.8)";

    private CudaBuild() {}

    /** Whether this jar carries ND4J's CUDA backend (looked up without loading it, which would load CUDA). */
    public static boolean present() {
        return CudaBuild.class.getClassLoader().getResource(BACKEND_CLASS.replace('.', '/') + ".class") != null;
    }

    /** Whether this build's CUDA code runs on a GPU of compute capability {@code major.minor}. */
    public static boolean covers(int major, int minor) {
        return (major > 3 || (major == 3 && minor >= 7)) && major <= 8;
    }

    public static boolean covers(GpuInfo gpu) {
        return covers(gpu.major(), gpu.minor());
    }
}
