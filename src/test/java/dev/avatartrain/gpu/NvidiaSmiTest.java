package dev.avatartrain.gpu;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** nvidia-smi's output read into GPUs, and which of them this build's CUDA code covers. */
class NvidiaSmiTest {
    @TempDir
    Path tmp;

    @Test
    void parsesTheQueryOutputWithAndWithoutUnits() {
        List<GpuInfo> gpus = NvidiaSmi.parse(StandInNvidiaSmi.A10G + "\n1, NVIDIA L4, 8.9, 23034, 535.183.01\n\n");
        assertEquals(List.of(new GpuInfo(0, "NVIDIA A10G", 8, 6, 23028, "550.54.15"), new GpuInfo(1, "NVIDIA L4", 8, 9, 23034, "535.183.01")), gpus);
        assertEquals("sm_86", gpus.get(0).sm());
        assertEquals("GPU 1 (NVIDIA L4, compute capability 8.9)", gpus.get(1).describe());
    }

    @Test
    void aNameWithCommasAndAnUnreportedMemoryAreRead() {
        GpuInfo g = NvidiaSmi.parse("3, Tesla K80, rev A, 3.7, [N/A], 470.256.02").get(0);
        assertEquals(new GpuInfo(3, "Tesla K80, rev A", 3, 7, -1, "470.256.02"), g);
    }

    @Test
    void anUnexpectedLineIsAnErrorNamingIt() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> NvidiaSmi.parse("Field \"compute_cap\" is not a valid field to query."));
        assertTrue(e.getMessage().contains("compute_cap\" is not a valid field"), e.getMessage());
    }

    @Test
    void coverageIsComputeCapability37To8x() {
        assertFalse(CudaBuild.covers(3, 5), "K40: below the oldest machine code");
        assertTrue(CudaBuild.covers(3, 7), "K80");
        assertTrue(CudaBuild.covers(7, 5), "T4");
        assertTrue(CudaBuild.covers(8, 0), "A100");
        assertTrue(CudaBuild.covers(8, 6), "A10G");
        assertTrue(CudaBuild.covers(8, 9), "L4: sm_86 machine code runs on 8.9");
        assertFalse(CudaBuild.covers(9, 0), "H100: no PTX to compile for it");
        assertFalse(CudaBuild.covers(10, 0), "B200");
        assertFalse(CudaBuild.covers(12, 0), "RTX 50xx");
    }

    @Test
    void probeRunsTheBinaryAndReportsAMissingOne() throws Exception {
        try (StandInNvidiaSmi smi = new StandInNvidiaSmi(tmp, StandInNvidiaSmi.H100)) {
            NvidiaSmi.Probe p = NvidiaSmi.probe();
            assertNull(p.problem());
            assertEquals("NVIDIA H100 80GB HBM3", p.byIndex(0).name());
            assertNull(p.byIndex(1));
            assertArrayEquals(new long[]{1000L << 20, 23028L << 20}, NvidiaSmi.memory(0));
        }
        try (StandInNvidiaSmi smi = StandInNvidiaSmi.absent(tmp)) {
            NvidiaSmi.Probe p = NvidiaSmi.probe();
            assertTrue(p.gpus().isEmpty());
            assertTrue(p.problem().startsWith("nvidia-smi not found"), p.problem());
            assertNull(NvidiaSmi.memory(0));
        }
    }

    /** bench/gpu.sh's report runs on a bare JVM: only these classes, no ND4J, Spark or CUDA library on the classpath. */
    @Test
    void theReportRunsOnABareJvmAndItsStatusSaysWhetherTheCudaBuildCoversGpu0() throws Exception {
        try (StandInNvidiaSmi smi = new StandInNvidiaSmi(tmp, StandInNvidiaSmi.H100)) {
            Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Davatartrain.nvidiaSmi=" + System.getProperty("avatartrain.nvidiaSmi"), "-cp", Path.of("target", "classes").toString(),
                    GpuReport.class.getName(), "--as-cuda-build").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
            assertEquals(GpuReport.NOT_COVERED, p.waitFor(), out);
            assertEquals("GPU 0: NVIDIA H100 80GB HBM3, compute capability 9.0 (sm_90), 81559 MiB, driver 550.54.15; this build: cannot run"
                    + " on it (nd4j-cuda-11.6 1.0.0-M2.1: machine code for sm_37 to sm_86 and no PTX: compute capability 3.7 to 8.x)", out);
        }
        assertEquals(List.of("GPU 0: NVIDIA A10G, compute capability 8.6 (sm_86), 23028 MiB, driver 550.54.15; this build: runs on it"),
                GpuReport.lines(new NvidiaSmi.Probe(NvidiaSmi.parse(StandInNvidiaSmi.A10G), null), true));
    }
}
