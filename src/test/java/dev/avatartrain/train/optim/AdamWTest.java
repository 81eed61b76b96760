package dev.avatartrain.train.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.avatartrain.tensors.Npy;
import dev.avatartrain.tensors.Npz;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * clip_grad_norm_ + AdamW against torch 1.13 (src/test/scripts/make_optim_fixtures.py): three small parameters,
 * four steps with changing learning rates, gradients clipped on steps 1 and 3 only.
 */
class AdamWTest {
    static final Map<String, Npy.NpyArray> F = Npz.read(Path.of("src/test/resources/fixtures/optim/adamw.npz"));
    // Must match SHAPES in the script; fixture records are these parameters flattened and concatenated.
    static final Map<String, long[]> SHAPES = new LinkedHashMap<>();
    static {
        SHAPES.put("a", new long[] {4, 3});
        SHAPES.put("b", new long[] {5});
        SHAPES.put("c.weight", new long[] {2, 3, 2});
    }
    static final double[] CONFIG = F.get("config").toINDArray(DataType.DOUBLE).toDoubleVector();
    static final double[] LRS = F.get("lrs").toINDArray(DataType.DOUBLE).toDoubleVector();
    static final double MAX_NORM = CONFIG[4];

    static AdamW newOptimizer() {
        return new AdamW(CONFIG[0], CONFIG[1], CONFIG[2], CONFIG[3]);
    }

    static String tag(DataType dtype) {
        return dtype == DataType.DOUBLE ? "double" : "float";
    }

    static double tolerance(DataType dtype) {
        return dtype == DataType.DOUBLE ? 1e-6 : 1e-5;
    }

    /** A fixture record split into the named parameters (fresh arrays). */
    static Map<String, INDArray> record(String key, DataType dtype) {
        INDArray flat = F.get(key).toINDArray(dtype);
        Map<String, INDArray> out = new LinkedHashMap<>();
        long offset = 0;
        for (Map.Entry<String, long[]> e : SHAPES.entrySet()) {
            long n = 1;
            for (long d : e.getValue()) n *= d;
            out.put(e.getKey(), flat.get(NDArrayIndex.interval(offset, offset + n)).dup().reshape(e.getValue()));
            offset += n;
        }
        assertEquals(flat.length(), offset, key);
        return out;
    }

    /** Largest difference relative to the largest expected magnitude, per parameter. */
    static void assertClose(Map<String, INDArray> expected, Map<String, INDArray> actual, String suffix, double tol, String what) {
        for (String name : SHAPES.keySet()) {
            INDArray e = expected.get(name), a = actual.get(name + suffix);
            assertEquals(e.dataType(), a.dataType(), what + " " + name);
            assertTrue(Arrays.equals(e.shape(), a.shape()), what + " " + name + " shape");
            double scale = e.amaxNumber().doubleValue();
            double diff = e.sub(a).amaxNumber().doubleValue();
            assertTrue(diff <= tol * scale, what + " " + name + ": max difference " + diff + " against magnitude " + scale);
        }
    }

    /** Steps {@code from..to} (1-based, inclusive) of the fixture, checking the result of each. */
    static void runSteps(AdamW opt, Map<String, INDArray> params, DataType dtype, int from, int to) {
        String t = tag(dtype);
        double tol = tolerance(dtype);
        for (int step = from; step <= to; step++) {
            String at = t + "." + step + ".";
            Map<String, INDArray> grads = record(at + "grad", dtype);
            double norm = GradientClipping.clipGlobalNorm(grads, MAX_NORM);
            double expectedNorm = F.get(at + "norm").toINDArray(DataType.DOUBLE).getDouble(0);
            assertEquals(expectedNorm, norm, tol * expectedNorm, at + "norm");
            Map<String, INDArray> before = copies(params);
            opt.step(params, grads, LRS[step - 1]);
            assertEquals(step, opt.stepCount());
            Map<String, INDArray> expected = record(at + "param", dtype);
            assertClose(expected, params, "", tol, at + "param");
            if (dtype == DataType.DOUBLE) {
                // The update itself is ~lr times smaller than the parameters: hold it to the tolerance too.
                Map<String, INDArray> expectedUpdate = new LinkedHashMap<>(), update = new LinkedHashMap<>();
                Map<String, INDArray> previous = step == 1 ? record(t + ".init", dtype) : record(t + "." + (step - 1) + ".param", dtype);
                for (String name : SHAPES.keySet()) {
                    expectedUpdate.put(name, expected.get(name).sub(previous.get(name)));
                    update.put(name, params.get(name).sub(before.get(name)));
                }
                assertClose(expectedUpdate, update, "", tol, at + "update");
            }
            assertClose(record(at + "exp_avg", dtype), opt.state(), AdamW.EXP_AVG, tol, at + "exp_avg");
            assertClose(record(at + "exp_avg_sq", dtype), opt.state(), AdamW.EXP_AVG_SQ, tol, at + "exp_avg_sq");
        }
    }

    static Map<String, INDArray> copies(Map<String, INDArray> m) {
        Map<String, INDArray> out = new LinkedHashMap<>();
        m.forEach((k, v) -> out.put(k, v.dup()));
        return out;
    }

    @ParameterizedTest
    @EnumSource(value = DataType.class, names = {"DOUBLE", "FLOAT"})
    void clippingAndStepsMatchTorch(DataType dtype) {
        AdamW opt = newOptimizer();
        Map<String, INDArray> params = record(tag(dtype) + ".init", dtype);
        runSteps(opt, params, dtype, 1, 4);
        assertEquals(2 * SHAPES.size(), opt.state().size());
    }

    @ParameterizedTest
    @EnumSource(value = DataType.class, names = {"DOUBLE", "FLOAT"})
    void stateRoundTripContinuesIdentically(DataType dtype) {
        AdamW original = newOptimizer();
        Map<String, INDArray> params = record(tag(dtype) + ".init", dtype);
        runSteps(original, params, dtype, 1, 2);
        Map<String, INDArray> savedState = copies(original.state());
        Map<String, INDArray> savedParams = copies(params);

        // A fresh optimizer (resume) and one that already holds state (after averaging) continue alike.
        AdamW resumed = newOptimizer();
        resumed.setState(savedState, original.stepCount());
        AdamW overwritten = newOptimizer();
        overwritten.step(copies(savedParams), record(tag(dtype) + ".1.grad", dtype), 0.5);
        Map<String, INDArray> live = overwritten.state();
        overwritten.setState(savedState, original.stepCount());
        assertEquals(savedState.get("a.exp_avg"), live.get("a.exp_avg"), "setState copies into the live arrays");

        Map<String, INDArray> resumedParams = copies(savedParams);
        Map<String, INDArray> overwrittenParams = copies(savedParams);
        runSteps(original, params, dtype, 3, 4);
        runSteps(resumed, resumedParams, dtype, 3, 4);
        runSteps(overwritten, overwrittenParams, dtype, 3, 4);
        assertEquals(params, resumedParams);
        assertEquals(params, overwrittenParams);
        assertEquals(original.state(), resumed.state());
        assertEquals(original.state(), overwritten.state());
    }

    @Test
    void setStateWithAWrongShapeNamesTheParameter() {
        AdamW opt = newOptimizer();
        Map<String, INDArray> params = record("double.init", DataType.DOUBLE);
        opt.step(params, record("double.1.grad", DataType.DOUBLE), 1e-3);
        Map<String, INDArray> bad = copies(opt.state());
        bad.put("b.exp_avg", Nd4j.zeros(DataType.DOUBLE, 6));
        bad.put("b.exp_avg_sq", Nd4j.zeros(DataType.DOUBLE, 6));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> opt.setState(bad, 1));
        assertTrue(e.getMessage().contains("'b'") && e.getMessage().contains("[6]"), e.getMessage());

        // A fresh optimizer adopts any consistent state; the mismatch shows at the first step, named.
        AdamW fresh = newOptimizer();
        fresh.setState(bad, 1);
        e = assertThrows(IllegalArgumentException.class,
                () -> fresh.step(params, record("double.2.grad", DataType.DOUBLE), 1e-3));
        assertTrue(e.getMessage().contains("'b.exp_avg'"), e.getMessage());
        assertEquals(1, fresh.stepCount(), "a refused step changes nothing");

        Map<String, INDArray> unpaired = copies(opt.state());
        unpaired.remove("c.weight.exp_avg_sq");
        e = assertThrows(IllegalArgumentException.class, () -> newOptimizer().setState(unpaired, 1));
        assertTrue(e.getMessage().contains("c.weight.exp_avg_sq"), e.getMessage());
    }

    @Test
    void zeroMaxNormReturnsTheNormWithoutClipping() {
        Map<String, INDArray> grads = record("double.1.grad", DataType.DOUBLE);
        Map<String, INDArray> before = copies(grads);
        double norm = GradientClipping.clipGlobalNorm(grads, 0);
        double expected = F.get("double.1.norm").toINDArray(DataType.DOUBLE).getDouble(0);
        assertEquals(expected, norm, 1e-9 * expected);
        assertEquals(before, grads);
    }

    @Test
    void parametersWithoutGradientsAreLeftAlone() {
        AdamW opt = newOptimizer();
        Map<String, INDArray> params = record("float.init", DataType.FLOAT);
        Map<String, INDArray> before = copies(params);
        Map<String, INDArray> grads = record("float.1.grad", DataType.FLOAT);
        grads.remove("b");
        opt.step(params, grads, 1e-2);
        assertEquals(before.get("b"), params.get("b"));
        assertTrue(!opt.state().containsKey("b.exp_avg"));
        grads.put("missing", Nd4j.zeros(DataType.FLOAT, 2));
        assertThrows(IllegalArgumentException.class, () -> opt.step(params, grads, 1e-2));
    }
}
