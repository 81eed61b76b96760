// The training losses as scalars in float32 (F.mse_loss, F.l1_loss, the row-weighted MSE) and their gradients, which
// read the upstream gradient of the scalar from device memory (no host round trip). The loss buffer is zeroed by the
// caller; blocks add their partial sums.
#include "common.cuh"

#define LOSSES(sfx, T)                                                                                                \
    extern "C" __global__ void mse_fwd_##sfx(const T* out, const T* target, float* loss, i64 n) {                    \
        float s = 0.f;                                                                                                \
        GRID_STRIDE(i, n) {                                                                                           \
            float d = to_f32(out[i]) - to_f32(target[i]);                                                             \
            s += d * d;                                                                                               \
        }                                                                                                             \
        s = block_sum(s);                                                                                             \
        if (threadIdx.x == 0) atomicAdd(loss, s / (float) n);                                                         \
    }                                                                                                                 \
    extern "C" __global__ void mse_bwd_##sfx(const T* out, const T* target, const float* dloss, T* dout, i64 n) {    \
        float k = 2.f * dloss[0] / (float) n;                                                                         \
        GRID_STRIDE(i, n) store(dout, i, k * (to_f32(out[i]) - to_f32(target[i])));                                   \
    }                                                                                                                 \
    extern "C" __global__ void l1_fwd_##sfx(const T* out, const T* target, float* loss, i64 n) {                     \
        float s = 0.f;                                                                                                \
        GRID_STRIDE(i, n) s += fabsf(to_f32(out[i]) - to_f32(target[i]));                                             \
        s = block_sum(s);                                                                                             \
        if (threadIdx.x == 0) atomicAdd(loss, s / (float) n);                                                         \
    }                                                                                                                 \
    extern "C" __global__ void l1_bwd_##sfx(const T* out, const T* target, const float* dloss, T* dout, i64 n) {     \
        float k = dloss[0] / (float) n;                                                                               \
        GRID_STRIDE(i, n) {                                                                                           \
            float d = to_f32(out[i]) - to_f32(target[i]);                                                             \
            store(dout, i, d > 0.f ? k : d < 0.f ? -k : 0.f);                                                         \
        }                                                                                                             \
    }                                                                                                                 \
    /* Σ_r w[r]·mean_k (out − target)² over rows [R, K]; one block per row */                                         \
    extern "C" __global__ void row_weighted_mse_fwd_##sfx(const T* out, const T* target, const float* w,             \
                                                          float* loss, int K) {                                       \
        i64 base = (i64) blockIdx.x * K;                                                                              \
        float s = 0.f;                                                                                                \
        for (int j = threadIdx.x; j < K; j += blockDim.x) {                                                           \
            float d = to_f32(out[base + j]) - to_f32(target[base + j]);                                               \
            s += d * d;                                                                                               \
        }                                                                                                             \
        s = block_sum(s);                                                                                             \
        if (threadIdx.x == 0) atomicAdd(loss, w[blockIdx.x] * s / (float) K);                                         \
    }                                                                                                                 \
    extern "C" __global__ void row_weighted_mse_bwd_##sfx(const T* out, const T* target, const float* w,             \
                                                          const float* dloss, T* dout, i64 n, int K) {                \
        float k = 2.f * dloss[0] / (float) K;                                                                         \
        GRID_STRIDE(i, n) store(dout, i, k * w[i / K] * (to_f32(out[i]) - to_f32(target[i])));                        \
    }
FOR_TYPES(LOSSES)
