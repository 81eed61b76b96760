// Sums, the affine map, the per-channel (timestep) addition and the reductions their backward passes need.
#include "common.cuh"

#define ELEMENTWISE(sfx, T)                                                                                           \
    extern "C" __global__ void add_##sfx(const T* a, const T* b, T* y, i64 n) {                                      \
        GRID_STRIDE(i, n) store(y, i, to_f32(a[i]) + to_f32(b[i]));                                                   \
    }                                                                                                                 \
    /* y = x·a + b */                                                                                                 \
    extern "C" __global__ void affine_##sfx(const T* x, T* y, i64 n, float a, float b) {                             \
        GRID_STRIDE(i, n) store(y, i, to_f32(x[i]) * a + b);                                                          \
    }                                                                                                                 \
    /* y [B, C, S] = h + t [B, C] broadcast over S */                                                                 \
    extern "C" __global__ void add_per_channel_##sfx(const T* h, const T* t, T* y, i64 n, int S) {                   \
        GRID_STRIDE(i, n) store(y, i, to_f32(h[i]) + to_f32(t[i / S]));                                               \
    }                                                                                                                 \
    /* dst += src (a gradient collected from several users) */                                                        \
    extern "C" __global__ void accumulate_##sfx(T* dst, const T* src, i64 n) {                                      \
        GRID_STRIDE(i, n) store(dst, i, to_f32(dst[i]) + to_f32(src[i]));                                             \
    }                                                                                                                 \
    /* out[r] (+)= Σ_j x[r, j] over x [R, K]; one block per row (addPerChannel's gradient of t) */                    \
    extern "C" __global__ void sum_rows_##sfx(const T* x, T* out, int K, int accumulate) {                           \
        i64 base = (i64) blockIdx.x * K;                                                                              \
        float s = 0.f;                                                                                                \
        for (int j = threadIdx.x; j < K; j += blockDim.x) s += to_f32(x[base + j]);                                   \
        s = block_sum(s);                                                                                             \
        if (threadIdx.x == 0) store(out, blockIdx.x, accumulate ? to_f32(out[blockIdx.x]) + s : s);                   \
    }                                                                                                                 \
    /* out[j] += Σ_r x[r, j] over x [R, K] in float32 (a bias gradient); one thread per column */                     \
    extern "C" __global__ void sum_columns_##sfx(const T* x, float* out, int R, int K) {                             \
        int j = blockIdx.x * blockDim.x + threadIdx.x;                                                                \
        if (j >= K) return;                                                                                           \
        float s = 0.f;                                                                                                \
        for (int r = 0; r < R; r++) s += to_f32(x[(i64) r * K + j]);                                                  \
        out[j] += s;                                                                                                  \
    }                                                                                                                 \
    /* y [R, K] = bias [K] in every row (a linear layer's output before the GEMM adds x·Wᵀ) */                     \
    extern "C" __global__ void bias_rows_##sfx(const float* bias, T* y, i64 n, int K) {                              \
        GRID_STRIDE(i, n) store(y, i, bias[i % K]);                                                                   \
    }                                                                                                                 \
    /* y [B, C, S] += bias [C] (a convolution's bias) */                                                              \
    extern "C" __global__ void add_bias_channels_##sfx(T* y, const float* bias, i64 n, int C, int S) {               \
        GRID_STRIDE(i, n) store(y, i, to_f32(y[i]) + bias[(i / S) % C]);                                              \
    }                                                                                                                 \
    /* out[c] += Σ_{b,s} dy[b, c, s] in float32 (a convolution's bias gradient); one block per channel */             \
    extern "C" __global__ void sum_channels_##sfx(const T* dy, float* out, int B, int C, int S) {                   \
        float s = 0.f;                                                                                                \
        for (int b = 0; b < B; b++) {                                                                                 \
            i64 base = ((i64) b * C + blockIdx.x) * S;                                                                \
            for (int j = threadIdx.x; j < S; j += blockDim.x) s += to_f32(dy[base + j]);                              \
        }                                                                                                             \
        s = block_sum(s);                                                                                             \
        if (threadIdx.x == 0) out[blockIdx.x] += s;                                                                   \
    }                                                                                                                 \
    extern "C" __global__ void fill_##sfx(T* y, i64 n, float v) {                                                    \
        GRID_STRIDE(i, n) store(y, i, v);                                                                             \
    }
FOR_TYPES(ELEMENTWISE)
