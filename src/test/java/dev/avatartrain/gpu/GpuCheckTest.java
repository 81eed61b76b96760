package dev.avatartrain.gpu;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.List;

import org.apache.spark.TaskContext;
import org.apache.spark.TaskContextImpl;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.resource.ResourceInformation;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.avatartrain.errors.BadInputException;
import scala.Tuple2;

/**
 * The check a task runs, in real Spark tasks. Local mode never hands tasks a GPU (a task set asking for
 * spark.task.resource.gpu.amount waits there for ever), so each task calls the check with its own TaskContext plus the
 * {@code gpu} resource Spark's scheduler would have given it on a GPU executor: address "0".
 */
class GpuCheckTest {
    private static SparkSession spark;
    private static JavaSparkContext sc;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[1]").appName("GpuCheckTest").config("spark.ui.enabled", "false").getOrCreate();
        sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    /** Runs one task that was assigned GPU 0 and returns what its check said (the GPU's name, or the failure). */
    private static String taskAssignedGpu0() {
        try {
            return sc.parallelize(List.of(1), 1).map(i -> {
                GpuInfo gpu = GpuCheck.forTask(withGpu(TaskContext.get(), "0"));
                return gpu.name();
            }).collect().get(0);
        } catch (Exception e) { // Spark's job failure (a SparkException), the task's exception as its cause
            for (Throwable c = e; c != null; c = c.getCause()) if (c instanceof BadInputException b) return "failed: " + b.getMessage();
            throw new AssertionError("the task failed otherwise", e);
        }
    }

    @Test
    void aTaskAssignedAGpuOnAMachineWithoutOneFailsWithTheSentence() throws Exception {
        try (StandInNvidiaSmi smi = StandInNvidiaSmi.absent(tmp)) {
            assertEquals("failed: Spark assigned GPU 0 to this task, but this executor sees no NVIDIA GPU (nvidia-smi not found: no NVIDIA"
                    + " driver on this machine): check the node's NVIDIA driver and the discovery script"
                    + " (spark.executor.resource.gpu.discoveryScript), or leave out spark.executor/task.resource.gpu.amount to train on CPUs.",
                    taskAssignedGpu0());
        }
    }

    @Test
    void aGpuThisBuildCannotRunFailsNamingItsComputeCapabilityAndTheLibrary() {
        NvidiaSmi.Probe h100 = new NvidiaSmi.Probe(NvidiaSmi.parse(StandInNvidiaSmi.H100), null);
        BadInputException e = assertThrows(BadInputException.class, () -> GpuCheck.usable(0, h100, true));
        assertEquals("GPU 0 (NVIDIA H100 80GB HBM3, compute capability 9.0) cannot run this build's CUDA code: nd4j-cuda-11.6 1.0.0-M2.1"
                + " carries machine code for sm_37 to sm_86 and no PTX: compute capability 3.7 to 8.x; use GPUs it covers (T4, V100, A100,"
                + " A10G, L4, L40S), or run this jar on the CPU (environment BACKEND_PRIORITY_CPU=200, and no"
                + " spark.executor/task.resource.gpu.amount).", e.getMessage());
        // a task without a GPU on such a machine is refused too, before ND4J would take the GPU and fail natively
        assertThrows(BadInputException.class, () -> GpuCheck.refuseUncoveredGpus(h100, true));
        GpuCheck.refuseUncoveredGpus(h100, false); // the CPU build never loads CUDA
        NvidiaSmi.Probe a10g = new NvidiaSmi.Probe(NvidiaSmi.parse(StandInNvidiaSmi.A10G), null);
        assertEquals("NVIDIA A10G", GpuCheck.usable(0, a10g, true).name());
        GpuCheck.refuseUncoveredGpus(a10g, true);
    }

    @Test
    void aGpuTaskWithTheCpuJarFailsSayingHowToBuildTheCudaOne() throws Exception {
        assertFalse(CudaBuild.present(), "the tests run the CPU build");
        try (StandInNvidiaSmi smi = new StandInNvidiaSmi(tmp, StandInNvidiaSmi.A10G)) {
            assertEquals("failed: GPU 0 (NVIDIA A10G, compute capability 8.6) was assigned to this task, but this jar has no CUDA backend:"
                    + " build it with 'mvn -Pcuda package' (nd4j-cuda-11.6 1.0.0-M2.1), or leave out spark.executor/task.resource.gpu.amount"
                    + " to train on CPUs.", taskAssignedGpu0());
        }
    }

    @Test
    void aTaskWithoutAGpuRunsOnTheCpuAndMemoryIsAskedOfTheAssignedGpu() throws Exception {
        try (StandInNvidiaSmi smi = new StandInNvidiaSmi(tmp, StandInNvidiaSmi.A10G)) {
            List<String> out = sc.parallelize(List.of(1), 1).map(i -> {
                GpuInfo none = GpuCheck.forTask(TaskContext.get());
                GpuMemory m = GpuCheck.memoryForTask(withGpu(TaskContext.get(), "0"));
                return none + " " + GpuCheck.memoryForTask(TaskContext.get()) + " " + m + " " + Backends.cudaLoaded();
            }).collect();
            assertEquals("null null GpuMemory[index=0, freeBytes=" + (1000L << 20) + ", totalBytes=" + (23028L << 20) + "] false", out.get(0));
        }
    }

    @Test
    void cudaVisibleDevicesRenumbersTheAssignedGpu() {
        assertEquals(3, GpuCheck.cudaOrdinal(3, null));
        assertEquals(1, GpuCheck.cudaOrdinal(3, "2,3"));
        BadInputException e = assertThrows(BadInputException.class, () -> GpuCheck.cudaOrdinal(3, "0,1"));
        assertTrue(e.getMessage().contains("CUDA_VISIBLE_DEVICES=0,1 hides it"), e.getMessage());
    }

    /** The task's context with the gpu resource a GPU executor's scheduler assigns ({@code TaskContext.resources()}). */
    @SuppressWarnings("unchecked")
    static TaskContext withGpu(TaskContext real, String address) {
        TaskContextImpl t = (TaskContextImpl) real;
        scala.collection.immutable.Map<String, ResourceInformation> none = scala.collection.immutable.Map$.MODULE$.empty();
        scala.collection.immutable.Map<String, ResourceInformation> gpu = none.$plus(
                new Tuple2<>("gpu", new ResourceInformation("gpu", new String[]{address})));
        return new TaskContextImpl(t.stageId(), t.stageAttemptNumber(), t.partitionId(), t.taskAttemptId(), t.attemptNumber(),
                t.numPartitions(), t.taskMemoryManager(), t.getLocalProperties(), null, t.taskMetrics(), t.cpus(), gpu);
    }
}
