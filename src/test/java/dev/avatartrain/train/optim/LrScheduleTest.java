package dev.avatartrain.train.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.avatartrain.config.OptimizerConfig;
import dev.avatartrain.tensors.Npy;
import dev.avatartrain.tensors.Npz;

import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;

/** Schedules against torch's LambdaLR with diffusers' lambdas (src/test/scripts/make_optim_fixtures.py). */
class LrScheduleTest {
    static final Map<String, Npy.NpyArray> F = Npz.read(Path.of("src/test/resources/fixtures/optim/schedules.npz"));

    static OptimizerConfig cfg(String scheduler, int warmup, int cycles, double power) {
        return new OptimizerConfig(1e-3, false, scheduler, warmup, 0.9, 0.999, 1e-2, 1e-8, 1.0, cycles, power);
    }

    @Test
    void everyScheduleMatchesTorch() {
        double[] c = F.get("config").toINDArray(DataType.DOUBLE).toDoubleVector();
        int maxSteps = (int) c[0], cycles = (int) c[2];
        double baseLr = c[1], power = c[3];
        int cases = 0;
        for (String key : F.keySet()) {
            if (!key.startsWith("lr.")) continue;
            String[] parts = key.split("\\.");
            LrSchedule s = LrSchedule.of(cfg(parts[1], Integer.parseInt(parts[2]), cycles, power), maxSteps, baseLr);
            double[] expected = F.get(key).toINDArray(DataType.DOUBLE).toDoubleVector();
            for (int step = 0; step < expected.length; step++) {
                double e = expected[step], a = s.lr(step);
                assertTrue(Math.abs(a - e) <= 1e-6 * Math.abs(e), key + " at step " + step + ": expected " + e + ", got " + a);
            }
            cases++;
        }
        assertEquals(2 * LrSchedule.NAMES.size(), cases);
    }

    @Test
    void unknownScheduleNamesTheAllowedOnes() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> LrSchedule.of(cfg("cosine_annealing", 0, 1, 1.0), 10, 1e-3));
        assertTrue(e.getMessage().contains("cosine_annealing") && e.getMessage().contains("cosine_with_restarts, polynomial"),
                e.getMessage());
    }

    @Test
    void polynomialNeedsARateAboveItsEnd() {
        assertThrows(IllegalArgumentException.class, () -> LrSchedule.of(cfg("polynomial", 0, 1, 1.0), 10, 1e-8));
    }

    @Test
    void scaleLrMultipliesBatchAccumulationAndWorkers() {
        OptimizerConfig off = cfg("constant", 0, 1, 1.0);
        OptimizerConfig on = new OptimizerConfig(1e-4, true, "constant", 0, 0.9, 0.999, 1e-2, 1e-8, 1.0, 1, 1.0);
        assertEquals(1e-3, LrSchedule.scaledLr(off, 4, 2, 3));
        assertEquals(1e-4 * 2 * 4 * 3, LrSchedule.scaledLr(on, 4, 2, 3));
    }
}
