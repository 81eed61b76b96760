package dev.avatartrain.gpu;

import java.util.ArrayList;
import java.util.List;

/**
 * The GPUs of this machine, one line each, with what this build does on each: the lines {@code avatar-train env}
 * prints, and a {@code main} that needs nothing but these classes and a JVM, for {@code bench/gpu.sh}'s bundle (no
 * ND4J, Spark or CUDA library): exit status 0 when this build's CUDA code covers GPU 0, 3 when it does not, 4 without
 * a GPU.
 */
public final class GpuReport {
    public static final int COVERED = 0;
    public static final int NOT_COVERED = 3;
    public static final int NO_GPU = 4;

    private GpuReport() {}

    /** "NVIDIA A10G, compute capability 8.6 (sm_86), 23028 MiB, driver 550.54.15; this build: runs on it". */
    public static String describe(GpuInfo g, boolean cudaInJar) {
        return g.name() + ", compute capability " + g.computeCapability() + " (" + g.sm() + "), "
                + (g.memoryMiB() >= 0 ? g.memoryMiB() + " MiB" : "memory not reported") + ", driver " + g.driverVersion()
                + "; this build: " + coverage(g, cudaInJar);
    }

    /** What a build with or without the CUDA backend does with this GPU. */
    static String coverage(GpuInfo g, boolean cudaInJar) {
        if (!cudaInJar) return "no CUDA backend in the jar (mvn -Pcuda package)";
        return CudaBuild.covers(g) ? "runs on it" : "cannot run on it (" + CudaBuild.LIBRARY + ": " + CudaBuild.COVERAGE + ")";
    }

    /** "GPU 0: ..." lines, or one line saying why there is none. */
    public static List<String> lines(NvidiaSmi.Probe probe, boolean cudaInJar) {
        List<String> out = new ArrayList<>();
        if (probe.gpus().isEmpty()) {
            out.add("GPUs: none seen (" + (probe.problem() != null ? probe.problem() : "nvidia-smi lists none") + ")");
        }
        for (GpuInfo g : probe.gpus()) out.add("GPU " + g.index() + ": " + describe(g, cudaInJar));
        return out;
    }

    /** Prints the lines as if the jar carried the CUDA backend ({@code --as-cuda-build}) or as this jar is. */
    public static void main(String[] args) {
        boolean asCuda = args.length > 0 && args[0].equals("--as-cuda-build");
        NvidiaSmi.Probe probe = NvidiaSmi.probe();
        lines(probe, asCuda || CudaBuild.present()).forEach(System.out::println);
        if (probe.gpus().isEmpty()) System.exit(NO_GPU);
        System.exit(CudaBuild.covers(probe.gpus().get(0)) ? COVERED : NOT_COVERED);
    }
}
