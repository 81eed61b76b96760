package dev.avatartrain.bench;

import java.util.Map;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Self-attention core softmax(Q Kᵀ/√d) V at the UNet's level-0 shape, forward+backward, three ways:
 * composed matmul/softmax with the scale on the scores, with the scale on Q, and libnd4j's fused
 * dot_product_attention (which recomputes the weights in its backward pass). Args: B heads N d.
 */
public final class AttentionBench {
    public static void main(String[] args) {
        if (args[0].equals("alloc")) {
            for (int i = 0; i < 6; i++) {
                long t0 = System.nanoTime();
                INDArray a = Nd4j.create(DataType.FLOAT, 12, 8, 1024, 1024);
                long t1 = System.nanoTime();
                INDArray u = Nd4j.createUninitialized(DataType.FLOAT, 12, 8, 1024, 1024);
                long t2 = System.nanoTime();
                u.assign(1.0f);
                long t3 = System.nanoTime();
                u.addi(a);
                long t4 = System.nanoTime();
                System.out.printf("attention alloc 400MB zeroed %.0f ms, uninitialised %.0f ms, first write %.0f ms,"
                        + " add in place %.0f ms%n", (t1 - t0) / 1e6, (t2 - t1) / 1e6, (t3 - t2) / 1e6, (t4 - t3) / 1e6);
                a.close();
                u.close();
            }
            return;
        }
        int b = Integer.parseInt(args[0]), h = Integer.parseInt(args[1]), n = Integer.parseInt(args[2]);
        int d = Integer.parseInt(args[3]);
        INDArray q = Nd4j.randn(DataType.FLOAT, b, h, n, d), k = Nd4j.randn(DataType.FLOAT, b, h, n, d);
        INDArray v = Nd4j.randn(DataType.FLOAT, b, h, n, d);
        INDArray ref = null;
        for (String mode : new String[] {"scores_scaled", "q_scaled", "fused"}) {
            SameDiff sd = SameDiff.create();
            SDVariable qv = sd.var("q", q.dup()), kv = sd.var("k", k.dup()), vv = sd.var("v", v.dup());
            double scale = 1 / Math.sqrt(d);
            SDVariable o;
            if (mode.equals("fused")) {
                // [B,H,N,d] -> [B,H,d,N] layout of dot_product_attention
                o = sd.nn().dotProductAttention(qv.permute(0, 1, 3, 2), kv.permute(0, 1, 3, 2),
                        vv.permute(0, 1, 3, 2), null, true).permute(0, 1, 3, 2);
            } else if (mode.equals("q_scaled")) {
                o = sd.mmul(sd.nn().softmax(sd.mmul(qv.mul(scale), kv, false, true, false), -1), vv);
            } else {
                o = sd.mmul(sd.nn().softmax(sd.mmul(qv, kv, false, true, false).mul(scale), -1), vv);
            }
            o = o.rename("o");
            SDVariable loss = o.mul(o).sum().rename("loss");
            sd.setLossVariables("loss");
            long best = Long.MAX_VALUE, bestF = Long.MAX_VALUE;
            INDArray out = null;
            for (int i = 0; i < 4; i++) {
                long t0 = System.nanoTime();
                out = sd.output(Map.of(), "o").get("o");
                long t1 = System.nanoTime();
                sd.calculateGradients(Map.of(), "q", "k", "v");
                long t2 = System.nanoTime();
                bestF = Math.min(bestF, t1 - t0);
                best = Math.min(best, t2 - t1);
            }
            if (ref == null) {
                ref = out;
            }
            System.out.printf("attention %s B=%d H=%d N=%d d=%d: forward %.0f ms, forward+backward %.0f ms, max diff %.2e%n",
                    mode, b, h, n, d, bestF / 1e6, best / 1e6, ref.sub(out).amaxNumber().doubleValue());
        }
    }
}
