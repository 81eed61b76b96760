package dev.avatartrain.models.cuda;

/**
 * {@code softmax(q kᵀ/√d) v} per head in float32, the reference path of the backend: per sample one strided-batched
 * GEMM over the heads for the scores, the row softmax kernel, one for the output; the probabilities are kept for the
 * backward pass. Heads live interleaved in the token rows ({@code q [B, n, heads·d]}), so head h of a sample is the
 * column block {@code h·d} with leading dimension {@code heads·d} and the batch stride between heads is {@code d}.
 * (cuDNN's fused SDPA in bfloat16 is the planned fast path; see docs/cuda.md.)
 */
final class Attention {
    record Forward(DeviceTensor out, DeviceTensor probs) {}

    record Grads(DeviceTensor dq, DeviceTensor dk, DeviceTensor dv) {}

    private final CudaDevice dev;
    private final Gemm gemm;
    private final int heads;
    private final int d;

    Attention(CudaDevice dev, Gemm gemm, int heads, int headDim) {
        this.dev = dev;
        this.gemm = gemm;
        this.heads = heads;
        this.d = headDim;
    }

    Forward forward(DeviceTensor q, DeviceTensor k, DeviceTensor v) {
        long[] qs = q.shape();
        int b = (int) qs[0];
        int n = (int) qs[1];
        int m = (int) k.shape()[1];
        int ld = heads * d;
        DeviceTensor scores = dev.allocate(TensorDesc.of(DType.F32, (long) b * heads, n, m));
        DeviceTensor out = dev.allocate(q.desc());
        for (int s = 0; s < b; s++) {
            // column-major Sᵀ [m, n] = K_h [m, d] · Q_hᵀ [d, n]
            gemm.columnMajorBatched(true, false, m, n, d, k, (long) s * m * ld, ld, d, q, (long) s * n * ld, ld,
                    d, scores, (long) s * heads * n * m, m, (long) n * m, heads);
        }
        dev.launch("softmax_fwd_f32", LaunchGeometry.perRow((long) b * heads * n, m), scores, scores, m,
                (float) (1 / Math.sqrt(d)));
        for (int s = 0; s < b; s++) {
            // column-major O_hᵀ [d, n] = V_hᵀ [d, m] · Pᵀ [m, n]
            gemm.columnMajorBatched(false, false, d, n, m, v, (long) s * m * ld, ld, d, scores,
                    (long) s * heads * n * m, m, (long) n * m, out, (long) s * n * ld, ld, d, heads);
        }
        return new Forward(out, scores);
    }

    Grads backward(DeviceTensor q, DeviceTensor k, DeviceTensor v, DeviceTensor probs, DeviceTensor dout) {
        long[] qs = q.shape();
        int b = (int) qs[0];
        int n = (int) qs[1];
        int m = (int) k.shape()[1];
        int ld = heads * d;
        DeviceTensor dq = dev.allocate(q.desc());
        DeviceTensor dk = dev.allocate(k.desc());
        DeviceTensor dv = dev.allocate(v.desc());
        DeviceTensor ds = dev.allocate(TensorDesc.of(DType.F32, heads, n, m)); // one sample's dP, then dS
        for (int s = 0; s < b; s++) {
            long p0 = (long) s * heads * n * m;
            long q0 = (long) s * n * ld;
            long k0 = (long) s * m * ld;
            // dPᵀ [m, n] = V_h [m, d] · dO_hᵀ [d, n]
            gemm.columnMajorBatched(true, false, m, n, d, v, k0, ld, d, dout, q0, ld, d, ds, 0, m, (long) n * m,
                    heads);
            // dV_hᵀ [d, m] = dO_hᵀ [d, n] · P [n, m]
            gemm.columnMajorBatched(false, true, d, m, n, dout, q0, ld, d, probs, p0, m, (long) n * m, dv, k0,
                    ld, d, heads);
            dev.launch("softmax_bwd_f32", LaunchGeometry.perRow((long) heads * n, m), new DeviceTensor(
                    probs.address + p0 * 4, TensorDesc.of(DType.F32, (long) heads * n * m), probs), ds, ds, m,
                    (float) (1 / Math.sqrt(d)));
            // dQ_hᵀ [d, n] = K_hᵀ [d, m] · dSᵀ [m, n]
            gemm.columnMajorBatched(false, false, d, n, m, k, k0, ld, d, ds, 0, m, (long) n * m, dq, q0, ld, d,
                    heads);
            // dK_hᵀ [d, m] = Q_hᵀ [d, n] · dS [n, m]
            gemm.columnMajorBatched(false, true, d, m, n, q, q0, ld, d, ds, 0, m, (long) n * m, dk, k0, ld, d,
                    heads);
        }
        dev.free(ds);
        return new Grads(dq, dk, dv);
    }
}
