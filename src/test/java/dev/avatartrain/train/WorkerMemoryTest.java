package dev.avatartrain.train;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class WorkerMemoryTest {
    @Test
    void aModelThatCannotFitAWorkerIsRefusedWithTheBytesAndTheSetting() {
        String r = WorkerMemory.refusal(100_000_000_000L, true, 2, 1, "spark.executor.memory = 1g");
        assertTrue(r.contains("100,000,000,000 parameters need 1117.59 GiB (1,200,000,000,000 bytes) of ND4J memory per worker"), r);
        assertTrue(r.contains("372.58 GiB (400,050,000,000 bytes) of heap (1/2 of both AdamW moments"), r);
        assertTrue(r.contains("(spark.executor.memory = 1g)"), r);
        assertNull(WorkerMemory.refusal(1000, true, 2, 2, "x"), "a small model fits");
        String averaging = WorkerMemory.refusal(100_000_000_000L, false, 2, 1, "x");
        assertTrue(averaging.contains("1862.65 GiB (2,000,000,000,000 bytes) of ND4J memory per worker (parameters, gradients, the"
                + " exchange's buckets, both AdamW moments)"), averaging);
    }

    @Test
    void onAGpuWorkerTheModelIsComparedWithTheAssignedGpusMemory() {
        long total = 80L << 30; // an 80 GiB GPU
        String r = WorkerMemory.gpuRefusal(10_000_000_000L, true, 8, 1, 3, total);
        assertTrue(r.contains("does not fit GPU 3: 10,000,000,000 parameters need 111.76 GiB"), r);
        assertTrue(r.contains("GPU 3 has 80.00 GiB"), r);
        assertNull(WorkerMemory.gpuRefusal(850_000_000L, true, 8, 1, 3, total), "the 850 M UNet fits an 80 GiB GPU");
    }
}
