package dev.avatartrain.models.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The scalar building blocks of the hand-written layers (the layers themselves are tested through the whole UNet
 * against the SameDiff graph and diffusers, UNetParityTest): exponential, activations and their derivatives, the
 * vectorised softmax against the scalar one, and the tape's gradient accumulation.
 */
class KernelsTest {
    @Test
    void fastExpIsWithinFloatRoundingOfExp() {
        double worst = 0;
        for (float x = -87f; x < 88f; x += 0.0137f) {
            worst = Math.max(worst, Math.abs(FastMath.exp(x) / Math.exp(x) - 1));
        }
        assertTrue(worst < 4e-7, "max relative error " + worst);
        assertEquals(0f, FastMath.exp(-100f));
        assertEquals(Float.POSITIVE_INFINITY, FastMath.exp(100f));
    }

    @Test
    void activationDerivativesMatchFiniteDifferences() {
        for (Activation a : Activation.values()) {
            for (float x = -6f; x <= 6f; x += 0.173f) {
                double h = 1e-3;
                double numeric = (a.apply((float) (x + h)) - a.apply((float) (x - h))) / (2 * h);
                assertEquals(numeric, a.derivative(x), 2e-3, a + " at " + x);
            }
        }
        // exact GELU: 0.5·x·(1 + erf(x/√2)); erf(1) = 0.8427007929497149
        assertEquals(0.5 * Math.sqrt(2) * (1 + 0.8427007929497149), Activation.GELU.apply((float) Math.sqrt(2)), 1e-6);
        assertEquals(2 / (1 + Math.exp(-2)), Activation.SILU.apply(2f), 1e-6);
    }

    @Test
    void vectorisedSoftmaxEqualsTheScalarLoop() {
        Random r = new Random(3);
        for (int m : new int[] {1, 7, 8, 50, 1024, 1031}) {
            float[] a = new float[m];
            for (int j = 0; j < m; j++) {
                a[j] = (float) (r.nextGaussian() * 4);
            }
            float[] v = a.clone();
            float[] s = a.clone();
            float lseV = Rows.softmax(v, m);
            float lseS = Rows.scalarSoftmax(s, m);
            assertEquals(lseS, lseV, 1e-5 * Math.abs(lseS) + 1e-6, "log-sum-exp, m=" + m);
            double sum = 0;
            for (int j = 0; j < m; j++) {
                assertEquals(s[j], v[j], 1e-6 + 1e-5 * s[j], "softmax, m=" + m);
                sum += v[j];
            }
            assertEquals(1.0, sum, 1e-5);

            float[] e = a.clone();
            Rows.expShifted(e, m, lseV); // the probabilities again, from the log-sum-exp
            float[] d = new float[m];
            for (int j = 0; j < m; j++) {
                assertEquals(v[j], e[j], 1e-6 + 1e-5 * v[j], "recomputed softmax, m=" + m);
                d[j] = (float) r.nextGaussian();
            }
            float[] dv = d.clone();
            float[] ds = d.clone();
            Rows.softmaxBackward(v, dv, m, 0.5f);
            Rows.scalarSoftmaxBackward(v, ds, m, 0.5f);
            for (int j = 0; j < m; j++) {
                assertEquals(ds[j], dv[j], 1e-6, "softmax backward, m=" + m);
            }
        }
    }

    @Test
    void rowFusedAttentionEqualsThePerHeadGemms() {
        Nd4j.getRandom().setSeed(11);
        int bh = 3, n = 37, m = 21, d = 4; // lengths that leave vector tails
        INDArray q = Nd4j.randn(DataType.FLOAT, bh, n, d);
        INDArray k = Nd4j.randn(DataType.FLOAT, bh, m, d);
        INDArray v = Nd4j.randn(DataType.FLOAT, bh, m, d);
        INDArray dOut = Nd4j.randn(DataType.FLOAT, bh, n, d);
        INDArray[][] grads = new INDArray[2][];
        INDArray[] outs = new INDArray[2];
        int saved = Attention.rowFusedMaxHeadDim;
        try {
            for (int path = 0; path < 2; path++) {
                Attention.rowFusedMaxHeadDim = path == 0 ? 0 : d;
                float[] lse = new float[bh * n];
                outs[path] = Attention.forward(q, k, v, lse, 0.5);
                grads[path] = Attention.backward(q, k, v, lse, dOut, 0.5);
            }
        } finally {
            Attention.rowFusedMaxHeadDim = saved;
        }
        assertTrue(Rows.VECTOR, "tests run with the vector module (pom.xml java17.opens)");
        assertTrue(outs[0].equalsWithEps(outs[1], 1e-5), "outputs");
        for (int g = 0; g < 3; g++) {
            assertTrue(grads[0][g].equalsWithEps(grads[1][g], 1e-4), "gradient " + "qkv".charAt(g));
        }
    }

    @Test
    void sharedGradientsAreCopiedBeforeAccumulating() {
        Tape t = new Tape(true);
        Tape.Var a = t.parameter(Nd4j.ones(DataType.FLOAT, 3));
        Tape.Var b = t.parameter(Nd4j.ones(DataType.FLOAT, 3));
        Tape.Var sum = Layers.add(t, a, b);          // passes one gradient array to both inputs
        Tape.Var out = Layers.add(t, sum, a);        // a is used twice: its gradient accumulates
        INDArray upstream = Nd4j.createFromArray(1f, 2f, 3f);
        t.backward(out, upstream);
        assertEquals(Nd4j.createFromArray(2f, 4f, 6f), a.grad());
        assertEquals(Nd4j.createFromArray(1f, 2f, 3f), b.grad(), "b's gradient was not changed by a's accumulation");
        assertEquals(Nd4j.createFromArray(1f, 2f, 3f), upstream, "the caller's array is untouched");
        Tape.Var c = new Tape(false).constant(upstream);
        assertSame(upstream, c.value());
    }
}
