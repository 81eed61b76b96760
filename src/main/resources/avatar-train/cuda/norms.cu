// Group norm + activation and layer norm, forward and backward. One block per normalised group or row; statistics in
// float32 (two passes: mean, then the mean of squared deviations), saved as mean and 1/std for the backward pass,
// which recomputes the normalised value instead of storing it. Parameter gradients are float32 and accumulated
// (atomicAdd / +=) into buffers the caller zeroed.
#include "common.cuh"

// Mean and 1/sqrt(variance + eps) of x[base, base + n) over the block (every thread gets them), saved at [slot].
template <typename T>
__device__ void statistics(const T* x, i64 base, i64 n, float eps, i64 slot, float* mean_out, float* rstd_out,
                           float& mean, float& rstd) {
    float s = 0.f;
    for (i64 i = threadIdx.x; i < n; i += blockDim.x) s += to_f32(x[base + i]);
    mean = block_sum(s) / n;
    float q = 0.f;
    for (i64 i = threadIdx.x; i < n; i += blockDim.x) {
        float d = to_f32(x[base + i]) - mean;
        q += d * d;
    }
    rstd = rsqrtf(block_sum(q) / n + eps);
    if (threadIdx.x == 0) {
        mean_out[slot] = mean;
        rstd_out[slot] = rstd;
    }
}

// x, y [B, C, S] (S = H·W); group g of sample b is the contiguous run of C/G channels; grid B·G blocks.
template <typename T>
__device__ void group_norm_act_fwd(const T* x, T* y, const float* gamma, const float* beta, float* mean_out,
                                   float* rstd_out, int C, int S, int G, float eps, int act) {
    int bg = blockIdx.x, cpg = C / G;
    i64 n = (i64) cpg * S, base = (i64) bg * n;
    int c0 = (bg % G) * cpg;
    float mean, rstd;
    statistics(x, base, n, eps, bg, mean_out, rstd_out, mean, rstd);
    for (i64 i = threadIdx.x; i < n; i += blockDim.x) {
        int c = c0 + (int) (i / S);
        float z = gamma[c] * (to_f32(x[base + i]) - mean) * rstd + beta[c];
        store(y, base + i, act_apply(act, z));
    }
}

// dz = dy·act'(z); dgamma[c] += Σ dz·x̂, dbeta[c] += Σ dz; dx = rstd·(γdz − mean(γdz) − x̂·mean(γdz·x̂)) per group.
template <typename T>
__device__ void group_norm_act_bwd(const T* x, const T* dy, T* dx, const float* gamma, const float* beta,
                                   const float* mean_in, const float* rstd_in, float* dgamma, float* dbeta,
                                   int C, int S, int G, int act) {
    int bg = blockIdx.x, cpg = C / G;
    i64 n = (i64) cpg * S, base = (i64) bg * n;
    int c0 = (bg % G) * cpg;
    float mean = mean_in[bg], rstd = rstd_in[bg];
    float s1 = 0.f, s2 = 0.f; // Σ γ·dz, Σ γ·dz·x̂ over the group (every thread holds the block's totals)
    for (int cc = 0; cc < cpg; cc++) {
        int c = c0 + cc;
        float a = 0.f, b = 0.f;
        for (int j = threadIdx.x; j < S; j += blockDim.x) {
            i64 i = base + (i64) cc * S + j;
            float xh = (to_f32(x[i]) - mean) * rstd;
            float dz = to_f32(dy[i]) * act_derivative(act, gamma[c] * xh + beta[c]);
            a += dz * xh;
            b += dz;
        }
        a = block_sum(a);
        b = block_sum(b);
        if (threadIdx.x == 0) {
            atomicAdd(dgamma + c, a);
            atomicAdd(dbeta + c, b);
        }
        s1 += gamma[c] * b;
        s2 += gamma[c] * a;
    }
    s1 /= n;
    s2 /= n;
    for (i64 i = threadIdx.x; i < n; i += blockDim.x) {
        int c = c0 + (int) (i / S);
        float xh = (to_f32(x[base + i]) - mean) * rstd;
        float dz = to_f32(dy[base + i]) * act_derivative(act, gamma[c] * xh + beta[c]);
        store(dx, base + i, rstd * (gamma[c] * dz - s1 - xh * s2));
    }
}

// x, y [R, D]; one block per row.
template <typename T>
__device__ void layer_norm_fwd(const T* x, T* y, const float* gamma, const float* beta, float* mean_out,
                               float* rstd_out, int D, float eps) {
    i64 base = (i64) blockIdx.x * D;
    float mean, rstd;
    statistics(x, base, D, eps, blockIdx.x, mean_out, rstd_out, mean, rstd);
    for (int j = threadIdx.x; j < D; j += blockDim.x) {
        store(y, base + j, gamma[j] * (to_f32(x[base + j]) - mean) * rstd + beta[j]);
    }
}

// dx of one row per block: rstd·(γdy − mean(γdy) − x̂·mean(γdy·x̂)).
template <typename T>
__device__ void layer_norm_bwd_input(const T* x, const T* dy, T* dx, const float* gamma, const float* mean_in,
                                     const float* rstd_in, int D) {
    i64 base = (i64) blockIdx.x * D;
    float mean = mean_in[blockIdx.x], rstd = rstd_in[blockIdx.x];
    float a = 0.f, b = 0.f;
    for (int j = threadIdx.x; j < D; j += blockDim.x) {
        float g = gamma[j] * to_f32(dy[base + j]);
        a += g;
        b += g * (to_f32(x[base + j]) - mean) * rstd;
    }
    a = block_sum(a) / D;
    b = block_sum(b) / D;
    for (int j = threadIdx.x; j < D; j += blockDim.x) {
        float xh = (to_f32(x[base + j]) - mean) * rstd;
        store(dx, base + j, rstd * (gamma[j] * to_f32(dy[base + j]) - a - xh * b));
    }
}

// dgamma[j] += Σ_r dy·x̂, dbeta[j] += Σ_r dy: one thread per column, rows in sequence (coalesced across threads).
template <typename T>
__device__ void layer_norm_bwd_params(const T* x, const T* dy, const float* mean_in, const float* rstd_in,
                                      float* dgamma, float* dbeta, int R, int D) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= D) return;
    float a = 0.f, b = 0.f;
    for (int r = 0; r < R; r++) {
        i64 i = (i64) r * D + j;
        float g = to_f32(dy[i]);
        a += g * (to_f32(x[i]) - mean_in[r]) * rstd_in[r];
        b += g;
    }
    dgamma[j] += a;
    dbeta[j] += b;
}

#define NORMS(sfx, T)                                                                                                 \
    extern "C" __global__ void group_norm_act_fwd_##sfx(const T* x, T* y, const float* gamma, const float* beta,     \
            float* mean, float* rstd, int C, int S, int G, float eps, int act) {                                      \
        group_norm_act_fwd(x, y, gamma, beta, mean, rstd, C, S, G, eps, act);                                         \
    }                                                                                                                 \
    extern "C" __global__ void group_norm_act_bwd_##sfx(const T* x, const T* dy, T* dx, const float* gamma,          \
            const float* beta, const float* mean, const float* rstd, float* dgamma, float* dbeta, int C, int S,       \
            int G, int act) {                                                                                         \
        group_norm_act_bwd(x, dy, dx, gamma, beta, mean, rstd, dgamma, dbeta, C, S, G, act);                          \
    }                                                                                                                 \
    extern "C" __global__ void layer_norm_fwd_##sfx(const T* x, T* y, const float* gamma, const float* beta,         \
            float* mean, float* rstd, int D, float eps) {                                                             \
        layer_norm_fwd(x, y, gamma, beta, mean, rstd, D, eps);                                                        \
    }                                                                                                                 \
    extern "C" __global__ void layer_norm_bwd_input_##sfx(const T* x, const T* dy, T* dx, const float* gamma,        \
            const float* mean, const float* rstd, int D) {                                                            \
        layer_norm_bwd_input(x, dy, dx, gamma, mean, rstd, D);                                                        \
    }                                                                                                                 \
    extern "C" __global__ void layer_norm_bwd_params_##sfx(const T* x, const T* dy, const float* mean,              \
            const float* rstd, float* dgamma, float* dbeta, int R, int D) {                                           \
        layer_norm_bwd_params(x, dy, mean, rstd, dgamma, dbeta, R, D);                                                \
    }
FOR_TYPES(NORMS)
