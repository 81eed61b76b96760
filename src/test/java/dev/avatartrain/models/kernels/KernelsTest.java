package dev.avatartrain.models.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.FloatBuffer;
import java.util.Random;
import java.util.function.Consumer;

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
    void vectorisedActivationsAndGegluEqualTheScalarDefinitions() {
        assertTrue(Rows.VECTOR, "tests run with the vector module (pom.xml java17.opens)");
        Random r = new Random(5);
        int n = 8192 + 37; // a full block, then a short one with a vector tail
        float[] x = new float[n];
        float[] dy = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (r.nextGaussian() * 3);
            dy[i] = (float) r.nextGaussian();
        }
        x[0] = 0f;
        x[1] = -30f;
        x[2] = 30f;
        for (Activation a : Activation.values()) {
            float[] y = out(n, b -> Activation.forward(a, FloatBuffer.wrap(x), b, n));
            float[] dx = out(n, b -> Activation.backward(a, FloatBuffer.wrap(x), FloatBuffer.wrap(dy),
                    b, n));
            for (int i = 0; i < n; i++) {
                assertEquals(a.apply(x[i]), y[i], 5e-7 * Math.max(1, Math.abs(x[i])), a + " at " + x[i]);
                assertEquals(dy[i] * a.derivative(x[i]), dx[i], 1e-6 * Math.max(1, Math.abs(dy[i] * x[i])),
                        a + "' at " + x[i]);
            }
        }
        int rows = 7, h = 83;
        float[] p = new float[rows * 2 * h];
        for (int i = 0; i < p.length; i++) {
            p[i] = (float) (r.nextGaussian() * 2);
        }
        float[] y = out(rows * h, b -> Activation.gegluForward(FloatBuffer.wrap(p), b, rows, h));
        float[] dp = out(rows * 2 * h, b -> Activation.gegluBackward(FloatBuffer.wrap(p),
                FloatBuffer.wrap(dy), b, rows, h));
        for (int row = 0; row < rows; row++) {
            for (int j = 0; j < h; j++) {
                float value = p[row * 2 * h + j];
                float gate = p[row * 2 * h + h + j];
                float g = dy[row * h + j];
                assertEquals(value * Activation.GELU.apply(gate), y[row * h + j], 2e-6, "GEGLU");
                assertEquals(g * Activation.GELU.apply(gate), dp[row * 2 * h + j], 2e-6, "GEGLU d value");
                assertEquals(g * value * Activation.GELU.derivative(gate), dp[row * 2 * h + h + j], 4e-6, "GEGLU d gate");
            }
        }
    }

    private static float[] out(int n, Consumer<FloatBuffer> kernel) {
        float[] a = new float[n];
        kernel.accept(FloatBuffer.wrap(a));
        return a;
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
    void tiledAttentionEqualsThePerHeadGemms() {
        assertTrue(Rows.VECTOR, "tests run with the vector module (pom.xml java17.opens)");
        // every head size of the configs (4, 8, 16, 40, 80, 160) and odd ones; lengths that leave vector tails, a
        // query block cut short (n % 4 != 0) and several key tiles (m > VectorAttention.KEYS: online rescaling)
        int[][] cases = {{4, 37, 21}, {8, 64, 300}, {16, 33, 50}, {40, 16, 64}, {80, 9, 257}, {160, 12, 50},
                {3, 5, 600}, {7, 4, 17}};
        for (int[] c : cases) {
            int d = c[0], n = c[1], m = c[2], bh = 3;
            Nd4j.getRandom().setSeed(11 + d);
            INDArray q = Nd4j.randn(DataType.FLOAT, bh, n, d).muli(1.5);
            INDArray k = Nd4j.randn(DataType.FLOAT, bh, m, d);
            INDArray v = Nd4j.randn(DataType.FLOAT, bh, m, d);
            INDArray dOut = Nd4j.randn(DataType.FLOAT, bh, n, d);
            INDArray[][] grads = new INDArray[3][];
            INDArray[] outs = new INDArray[2];
            float[][] lses = new float[2][];
            boolean saved = Attention.tiled;
            try {
                for (int path = 0; path < 2; path++) {
                    Attention.tiled = path == 1;
                    lses[path] = new float[bh * n];
                    outs[path] = Attention.forward(q, k, v, lses[path], 0.5);
                    grads[path] = Attention.backward(q, k, v, outs[path], lses[path], dOut, 0.5);
                }
                grads[2] = Attention.backward(q, k, v, lses[1], dOut, 0.5); // recomputing the output
            } finally {
                Attention.tiled = saved;
            }
            String what = " (d=" + d + ", n=" + n + ", m=" + m + ")";
            assertTrue(outs[0].equalsWithEps(outs[1], 1e-5), "outputs" + what);
            for (int r = 0; r < bh * n; r++) {
                float tolerance = 1e-5f * Math.max(1, Math.abs(lses[0][r]));
                assertEquals(lses[0][r], lses[1][r], tolerance, "log-sum-exp" + what);
            }
            for (int g = 0; g < 3; g++) {
                assertTrue(grads[0][g].equalsWithEps(grads[1][g], 1e-4), "gradient " + "qkv".charAt(g) + what);
                assertTrue(grads[1][g].equals(grads[2][g]), "gradient " + "qkv".charAt(g) + " with recomputed output"
                        + what);
            }
        }
    }

    @Test
    void attentionOnTheTokensLayoutEqualsThePerHeadGemms() {
        // heads of BlockedAttention.MIN_HEAD+ channels run on the tokens' layout (no head moves): the layer's output
        // and gradients against the per-head GEMMs on split heads; queries not in whole vectors, two key tiles
        int batch = 2, heads = 3, n = 21, m = 70;
        for (int d : new int[] {BlockedAttention.MIN_HEAD, 40}) {
            Nd4j.getRandom().setSeed(5 + d);
            INDArray q = Nd4j.randn(DataType.FLOAT, batch * n, heads * d);
            INDArray k = Nd4j.randn(DataType.FLOAT, batch * m, heads * d);
            INDArray v = Nd4j.randn(DataType.FLOAT, batch * m, heads * d);
            INDArray gout = Nd4j.randn(DataType.FLOAT, batch * n, heads * d);
            INDArray[][] results = new INDArray[2][];
            boolean saved = Attention.tiled;
            try {
                for (int path = 0; path < 2; path++) {
                    Attention.tiled = path == 1;
                    assertEquals(path == 1, Attention.blocked(d));
                    Tape t = new Tape(true);
                    Tape.Var qv = t.parameter(q), kv = t.parameter(k), vv = t.parameter(v);
                    Tape.Var out = Layers.attention(t, qv, kv, vv, batch, heads);
                    INDArray o = out.value().dup();
                    t.backward(out, gout);
                    results[path] = new INDArray[] {o, qv.grad(), kv.grad(), vv.grad()};
                }
            } finally {
                Attention.tiled = saved;
            }
            for (int i = 0; i < 4; i++) {
                assertTrue(results[0][i].equalsWithEps(results[1][i], 1e-4), new String[] {"output", "dq", "dk", "dv"}[i]
                        + " (d=" + d + ")");
            }
        }
    }

    /**
     * A convolution whose backward pass takes the im2col + GEMM path (few output positions, many unfolded channels)
     * gives libnd4j's conv2d_bp gradients, for stride 1 and 2, with and without bias.
     */
    @Test
    void convolutionGradientsByGemmEqualConv2dBp() {
        for (int stride : new int[] {1, 2}) {
            for (boolean withBias : new boolean[] {true, false}) {
                Nd4j.getRandom().setSeed(11 + stride);
                INDArray x = Nd4j.randn(DataType.FLOAT, 2, 130, 6, 6), w = Nd4j.randn(DataType.FLOAT, 7, 130, 3, 3).muli(0.1);
                INDArray bias = Nd4j.randn(DataType.FLOAT, 7);
                long oh = (6 + 2 - 3) / stride + 1;
                assertTrue(Layers.gemmBackward(2 * oh * oh, 130 * 9), "this shape takes the GEMM path");
                INDArray dy = Nd4j.randn(DataType.FLOAT, 2, 7, oh, oh);
                Tape t = new Tape(true);
                Tape.Var xv = t.parameter(x), wv = t.parameter(w), bv = withBias ? t.parameter(bias) : null;
                Tape.Var y = Layers.conv2d(t, xv, wv, bv, stride, 1);
                t.backward(y, dy);
                INDArray dx = Nd4j.create(DataType.FLOAT, x.shape()), dw = Nd4j.create(DataType.FLOAT, w.shape()), db = Nd4j.create(DataType.FLOAT, 7);
                int[] iArgs = {3, 3, stride, stride, 1, 1, 1, 1, 0, 0, 1};
                Nd4j.exec(new org.nd4j.linalg.api.ops.DynamicCustomOp("conv2d_bp",
                        withBias ? new INDArray[] {x, w, bias, dy} : new INDArray[] {x, w, dy},
                        withBias ? new INDArray[] {dx, dw, db} : new INDArray[] {dx, dw}, java.util.List.of(), iArgs));
                String where = "stride " + stride + (withBias ? ", bias" : "");
                assertTrue(xv.grad().equalsWithEps(dx, 1e-4), where + ": dx");
                assertTrue(wv.grad().equalsWithEps(dw, 1e-4), where + ": dW");
                if (withBias) assertTrue(bv.grad().equalsWithEps(db, 1e-4), where + ": db");
            }
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

    @Test
    void backwardHandsBackWhatItConsumedAndKeepsTheRootAndTheParameterGradients() {
        int n = 1 << 19; // 2 MB of float32: kernel outputs of this size get memory of their own
        Nd4j.getRandom().setSeed(13);
        INDArray x = Nd4j.randn(DataType.FLOAT, 512, n / 512);
        INDArray gout = Nd4j.randn(DataType.FLOAT, 512, n / 512);
        Tape t = new Tape(true);
        Tape.Var xv = t.parameter(x);
        Tape.Var h1 = Layers.activation(t, xv, Activation.SILU);
        Tape.Var h2 = Layers.activation(t, h1, Activation.GELU);
        Tape.Var h3 = Layers.activation(t, Layers.add(t, h2, h1), Activation.IDENTITY);
        float[] rootBefore = Buffers.toFloats(h3.value());
        t.backward(h3, gout);
        // h2's memory was handed back first and reused for x's gradient, then h1's handed back (they are dead)
        assertTrue(Buffers.sameMemory(h2.value(), xv.grad()), "h2's memory reused for x's gradient");
        assertTrue(Buffers.handedBack(h1.value()), "h1's memory handed back by the backward pass");
        assertTrue(!Buffers.handedBack(h3.value()) && !Buffers.handedBack(xv.grad()), "root and gradient kept");
        float[] root = Buffers.toFloats(h3.value()); // the root's value stays readable
        float[] xs = Buffers.toFloats(x);
        float[] g = Buffers.toFloats(gout);
        float[] dx = Buffers.toFloats(xv.grad());
        for (int i = 0; i < n; i += 97) {
            assertEquals(rootBefore[i], root[i], "root value kept");
            float a1 = Activation.SILU.apply(xs[i]);
            float expected = g[i] * (Activation.GELU.derivative(a1) + 1) * Activation.SILU.derivative(xs[i]);
            assertEquals(expected, dx[i], 1e-5 * Math.max(1, Math.abs(expected)), "dx at " + i);
        }
        assertTrue(Buffers.toFloats(gout)[0] == g[0], "the caller's gradient is untouched");
    }

    /** A residual block {@code x + W·silu(x)} of {@code x}, recording on {@code t}; its intermediates go to {@code seen}. */
    private static Tape.Var residualBlock(Tape t, Tape.Var x, Tape.Var w, java.util.List<Tape.Var> seen) {
        Tape.Var h = Layers.activation(t, x, Activation.SILU);
        Tape.Var y = Layers.linear(t, h, w, null);
        seen.add(h);
        seen.add(y);
        return Layers.add(t, x, y);
    }

    @Test
    void checkpointedBlockKeepsOnlyItsInputsAndGivesTheSameGradients() {
        Nd4j.getRandom().setSeed(17);
        INDArray x = Nd4j.randn(DataType.FLOAT, 512, 512); // 1 MB activations: memory of their own, handed back
        INDArray w = Nd4j.randn(DataType.FLOAT, 512, 512).muli(0.05);
        INDArray gout = Nd4j.randn(DataType.FLOAT, 512, 512);
        float[][] grads = new float[4][];
        for (boolean checkpointed : new boolean[] {false, true}) {
            Tape t = new Tape(true);
            Tape.Var xv = t.parameter(x);
            Tape.Var wv = t.parameter(w);
            Tape.Var h0 = Layers.activation(t, xv, Activation.GELU); // an activation computed before the block
            java.util.List<Tape.Var> seen = new java.util.ArrayList<>();
            Tape.Var y = checkpointed
                    ? t.checkpoint(new Tape.Var[] {h0}, (bt, in) -> residualBlock(bt, in[0], wv, seen))
                    : residualBlock(t, h0, wv, seen);
            for (Tape.Var v : seen) {
                assertEquals(checkpointed, Buffers.handedBack(v.value()), "a block's intermediate handed back after the"
                        + " forward pass iff checkpointed");
            }
            Tape.Var out = Layers.activation(t, y, Activation.SILU);
            t.backward(out, gout.dup());
            grads[checkpointed ? 2 : 0] = Buffers.toFloats(xv.grad());
            grads[checkpointed ? 3 : 1] = Buffers.toFloats(wv.grad());
        }
        org.junit.jupiter.api.Assertions.assertArrayEquals(grads[0], grads[2], 1e-6f, "x's gradient");
        org.junit.jupiter.api.Assertions.assertArrayEquals(grads[1], grads[3], 1e-5f, "w's gradient");
    }

    @Test
    void reusableMemoryCanBeFreed() {
        Tape t = new Tape(true);
        Tape.Var x = t.parameter(Nd4j.randn(DataType.FLOAT, 512, 1024)); // 2 MB outputs: memory of their own
        Tape.Var h = Layers.activation(t, Layers.activation(t, x, Activation.SILU), Activation.GELU);
        t.backward(h, Nd4j.ones(DataType.FLOAT, 512, 1024));
        assertTrue(Tape.freeReusableMemory() >= 2L << 20, "the consumed output's memory was waiting for reuse");
        assertEquals(0, Tape.freeReusableMemory(), "and is freed once");
    }
}
