package dev.avatartrain.gpu;

import java.util.ArrayList;
import java.util.List;

import org.apache.spark.TaskContext;
import org.apache.spark.resource.ResourceInformation;
import org.nd4j.linalg.factory.Nd4j;

import dev.avatartrain.errors.BadInputException;

/**
 * The check a task runs before its first ND4J call: the GPU Spark assigned it ({@code spark.task.resource.gpu.amount=1},
 * {@code TaskContext.resources()}) must be one this build's CUDA code runs on, and ND4J must have loaded CUDA for it;
 * then ND4J's thread is pointed at that GPU. Anything else fails the task with one sentence naming the GPU, its
 * compute capability, the library and what to do — never a native crash, never a silent fall-back to the CPU.
 */
public final class GpuCheck {
    /** Asked once per JVM and binary: the GPUs of a node do not change under a job. */
    private static volatile Cached cached;

    private record Cached(java.nio.file.Path exe, NvidiaSmi.Probe probe) {}

    private GpuCheck() {}

    /**
     * Call first thing in every task that computes with ND4J (training, encoding). Returns the GPU the task uses,
     * or null for a task that was assigned none (it runs on the backend ND4J chose, logged once per JVM).
     */
    public static GpuInfo forTask(TaskContext ctx) {
        Integer address = assignedAddress(ctx);
        if (address == null) {
            refuseUncoveredGpus(probe(), CudaBuild.present());
            Backends.load(CudaBuild.present() && !probe().gpus().isEmpty());
            Backends.logOnce();
            return null;
        }
        GpuInfo gpu = usable(address, probe(), CudaBuild.present());
        if (!Backends.cudaLoaded()) {
            throw new BadInputException(gpu.describe() + " was assigned to this task, but ND4J did not load " + CudaBuild.LIBRARY
                    + " (" + Backends.whyNotCuda() + "): install " + CudaBuild.RUNTIME + " on the workers (README, \"GPUs\"), or put"
                    + " JavaCPP's cuda redist jar on their classpath.");
        }
        Nd4j.getAffinityManager().unsafeSetDevice(cudaOrdinal(address, System.getenv("CUDA_VISIBLE_DEVICES")));
        Backends.logOnce();
        return gpu;
    }

    /**
     * Call on the driver before its first ND4J call (the jobs that build networks): refuses a machine whose GPUs ND4J
     * would take but this build cannot run, and logs the backend ND4J took.
     */
    public static void forDriver() {
        refuseUncoveredGpus(probe(), CudaBuild.present());
        Backends.load(CudaBuild.present() && !probe().gpus().isEmpty());
        Backends.logOnce();
    }

    /** Free and total memory of the GPU this task was assigned, or null on a task without one (or no nvidia-smi). */
    public static GpuMemory memoryForTask(TaskContext ctx) {
        Integer address = assignedAddress(ctx);
        if (address == null) return null;
        long[] m = NvidiaSmi.memory(address);
        return m == null ? null : new GpuMemory(address, m[0], m[1]);
    }

    /** The GPU address Spark assigned the task, or null (no task, no GPU resource, no address). */
    static Integer assignedAddress(TaskContext ctx) {
        if (ctx == null) return null;
        scala.Option<ResourceInformation> gpu = ctx.resources().get("gpu");
        if (gpu.isEmpty() || gpu.get().addresses().length == 0) return null;
        String a = gpu.get().addresses()[0];
        try {
            return Integer.parseInt(a.strip());
        } catch (NumberFormatException e) {
            throw new BadInputException("Spark assigned this task the GPU address \"" + a + "\", which is not an nvidia-smi index: the"
                    + " discovery script (spark.executor.resource.gpu.discoveryScript) must print indices such as [\"0\", \"1\"].");
        }
    }

    /** The assigned GPU, if this build can run on it; else the sentence that says why not and what to do. */
    static GpuInfo usable(int address, NvidiaSmi.Probe seen, boolean cudaInJar) {
        GpuInfo gpu = seen.byIndex(address);
        if (gpu == null) {
            throw new BadInputException("Spark assigned GPU " + address + " to this task, but this executor sees "
                    + (seen.gpus().isEmpty() ? "no NVIDIA GPU (" + (seen.problem() != null ? seen.problem() : "nvidia-smi lists none") + ")"
                    : "only GPUs " + indices(seen.gpus())) + ": check the node's NVIDIA driver and the discovery script"
                    + " (spark.executor.resource.gpu.discoveryScript), or leave out spark.executor/task.resource.gpu.amount to train on CPUs.");
        }
        if (!cudaInJar) {
            throw new BadInputException(gpu.describe() + " was assigned to this task, but this jar has no CUDA backend: build it with"
                    + " 'mvn -Pcuda package' (" + CudaBuild.LIBRARY + "), or leave out spark.executor/task.resource.gpu.amount to train on CPUs.");
        }
        if (!CudaBuild.covers(gpu)) throw new BadInputException(uncovered(gpu));
        return gpu;
    }

    /**
     * A task without a GPU still loads ND4J, which takes CUDA wherever a GPU is visible: where none of them is one this
     * build runs on, ND4J would fail natively at the first operation, so refuse with the sentence first.
     */
    static void refuseUncoveredGpus(NvidiaSmi.Probe seen, boolean cudaInJar) {
        if (!cudaInJar || Backends.cpuForced() || seen.gpus().isEmpty()) return;
        List<GpuInfo> uncovered = seen.gpus().stream().filter(g -> !CudaBuild.covers(g)).toList();
        if (uncovered.size() == seen.gpus().size()) throw new BadInputException(uncovered(uncovered.get(0)));
    }

    static String uncovered(GpuInfo gpu) {
        return gpu.describe() + " cannot run this build's CUDA code: " + CudaBuild.LIBRARY + " carries " + CudaBuild.COVERAGE
                + "; use GPUs it covers (T4, V100, A100, A10G, L4, L40S), or run this jar on the CPU (environment"
                + " BACKEND_PRIORITY_CPU=200, and no spark.executor/task.resource.gpu.amount).";
    }

    /** The CUDA device ordinal of an nvidia-smi index: its position in CUDA_VISIBLE_DEVICES when that is set. */
    static int cudaOrdinal(int address, String cudaVisibleDevices) {
        if (cudaVisibleDevices == null || cudaVisibleDevices.isBlank()) return address;
        String[] visible = cudaVisibleDevices.split(",");
        for (int i = 0; i < visible.length; i++) if (visible[i].strip().equals(String.valueOf(address))) return i;
        throw new BadInputException("Spark assigned GPU " + address + " to this task, but CUDA_VISIBLE_DEVICES=" + cudaVisibleDevices
                + " hides it from CUDA: unset CUDA_VISIBLE_DEVICES on the executors, or make the discovery script report those GPUs.");
    }

    private static NvidiaSmi.Probe probe() {
        java.nio.file.Path exe = NvidiaSmi.executable();
        Cached c = cached;
        if (c == null || !java.util.Objects.equals(c.exe(), exe)) cached = c = new Cached(exe, NvidiaSmi.probe());
        return c.probe();
    }

    private static String indices(List<GpuInfo> gpus) {
        List<String> out = new ArrayList<>();
        for (GpuInfo g : gpus) out.add(String.valueOf(g.index()));
        return String.join(", ", out);
    }
}
