// The optimizer step over the flat float32 master weights: PyTorch's AdamW (decoupled weight decay, bias-corrected
// moments, eps added after the square root), fused with the gradient's scale (global-norm clipping, loss-scale
// undo) and the bfloat16 copy the next forward pass reads; and the sum of squares behind the global norm.
#include "common.cuh"

// step_size = lr / (1 − β1^t), inv_bc2_sqrt = 1 / sqrt(1 − β2^t): computed on the host once per step.
extern "C" __global__ void adamw_step(float* p, const float* g, float* m, float* v, bf16* p_bf16, i64 n,
                                      float lr, float beta1, float beta2, float eps, float weight_decay,
                                      float step_size, float inv_bc2_sqrt, float grad_scale) {
    GRID_STRIDE(i, n) {
        float gi = g[i] * grad_scale;
        float mi = beta1 * m[i] + (1.f - beta1) * gi;
        float vi = beta2 * v[i] + (1.f - beta2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float pi = p[i] * (1.f - lr * weight_decay);
        pi -= step_size * mi / (sqrtf(vi) * inv_bc2_sqrt + eps);
        p[i] = pi;
        if (p_bf16) p_bf16[i] = f32_to_bf16(pi);
    }
}

// out[0] += Σ g² (out zeroed by the caller); the global norm is the square root over all buffers.
extern "C" __global__ void sum_squares_f32(const float* g, float* out, i64 n) {
    float s = 0.f;
    GRID_STRIDE(i, n) s += g[i] * g[i];
    s = block_sum(s);
    if (threadIdx.x == 0) atomicAdd(out, s);
}
