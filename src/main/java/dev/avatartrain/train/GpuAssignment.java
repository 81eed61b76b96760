package dev.avatartrain.train;

import java.util.List;
import java.util.Map;

import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;
import org.nd4j.linalg.factory.Nd4j;

/**
 * GPUs on workers (the {@code cuda} build): each task uses the GPU Spark assigned to it, and a GPU the CUDA
 * backend cannot run is an error at start. nd4j-cuda-11.6 1.0.0-M2.1 carries machine code for compute capability
 * 3.7 … 8.6 and no PTX, so it runs on 3.7 ≤ cc and major ≤ 8 (8.9 runs the 8.6 code), never on 9.x (H100).
 */
public final class GpuAssignment {
    private GpuAssignment() {}

    /** Whether the CUDA backend is the one loaded. */
    public static boolean cudaBackend() {
        return Nd4j.getBackend().getClass().getName().toLowerCase(java.util.Locale.ROOT).contains("jcublas");
    }

    /** The compute-capability rule of the M2.1 CUDA backend (see the class comment). */
    public static boolean supported(int major, int minor) {
        return (major > 3 || (major == 3 && minor >= 7)) && major <= 8;
    }

    /** Points this thread's ND4J at the task's assigned GPU; a no-op on the CPU backend or without an assignment. */
    public static void useAssignedGpu(TaskContext ctx) {
        if (ctx == null || !cudaBackend()) return;
        scala.Option<ResourceInformation> gpu = ctx.resources().get("gpu");
        if (gpu.isEmpty() || gpu.get().addresses().length == 0) return;
        int device = Integer.parseInt(gpu.get().addresses()[0]);
        Nd4j.getAffinityManager().unsafeSetDevice(device);
    }

    /** Fails with a clear message when a visible GPU has a compute capability the backend cannot run. */
    @SuppressWarnings("unchecked")
    public static void checkDevices() {
        if (!cudaBackend()) return;
        Object info = Nd4j.getExecutioner().getEnvironmentInformation().get("cuda.devicesInformation");
        if (!(info instanceof List<?> devices)) return;
        for (Object d : devices) {
            Map<String, Object> m = (Map<String, Object>) d;
            int major = ((Number) m.getOrDefault("cuda.deviceMajor", 0)).intValue();
            int minor = ((Number) m.getOrDefault("cuda.deviceMinor", 0)).intValue();
            if (!supported(major, minor)) {
                throw new IllegalStateException("GPU " + m.get("cuda.deviceName") + " has compute capability " + major + "." + minor
                        + "; the CUDA backend (nd4j-cuda-11.6 1.0.0-M2.1) runs 3.7 to 8.x only (K80 … A100, A10G, L4, L40S, RTX 30/40)."
                        + " Use such GPUs, or the CPU build.");
            }
        }
    }
}
