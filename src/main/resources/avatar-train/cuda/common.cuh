// Shared by every kernel family: storage types, the activations (codes = dev.avatartrain.models.kernels.Activation
// ordinals), reductions and the grid-stride loop. NVRTC here has no cuda_bf16.h (it ships with the toolkit, not with
// the nvidia-cuda-nvrtc wheel), so bfloat16 is stored as its 16 bits and converted by hand: round to nearest even,
// the same rule as dev.avatartrain.models.cuda.BFloat16. All arithmetic is float32.
#pragma once

typedef unsigned short bf16;
typedef long long i64;

__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(bf16 v) { return __uint_as_float(((unsigned) v) << 16); }

__device__ __forceinline__ bf16 f32_to_bf16(float f) {
    unsigned u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        return (bf16) ((u >> 16) | 0x40u); // NaN stays a (quiet) NaN
    }
    u += 0x7fffu + ((u >> 16) & 1u);
    return (bf16) (u >> 16);
}

__device__ __forceinline__ void store(float* p, i64 i, float v) { p[i] = v; }
__device__ __forceinline__ void store(bf16* p, i64 i, float v) { p[i] = f32_to_bf16(v); }

#define ACT_IDENTITY 0
#define ACT_SILU 1
#define ACT_GELU 2
#define ACT_RELU 3

__device__ __forceinline__ float act_apply(int act, float a) {
    switch (act) {
        case ACT_SILU: return a / (1.f + expf(-a));
        case ACT_GELU: return 0.5f * a * (1.f + erff(a * 0.70710678118654752f));
        case ACT_RELU: return a > 0.f ? a : 0.f;
        default: return a;
    }
}

/** d act / da at a. */
__device__ __forceinline__ float act_derivative(int act, float a) {
    switch (act) {
        case ACT_SILU: {
            float s = 1.f / (1.f + expf(-a));
            return s * (1.f + a * (1.f - s));
        }
        case ACT_GELU:
            return 0.5f * (1.f + erff(a * 0.70710678118654752f)) + a * expf(-0.5f * a * a) * 0.3989422804014327f;
        case ACT_RELU: return a > 0.f ? 1.f : 0.f;
        default: return 1.f;
    }
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/** Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result. */
__device__ float block_sum(float v) {
    __shared__ float part[32];
    __shared__ float total;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_sum(v);
    __syncthreads(); // part[] may still be read by a previous call
    if (lane == 0) part[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float s = lane < (int) (blockDim.x >> 5) ? part[lane] : 0.f;
        s = warp_sum(s);
        if (lane == 0) total = s;
    }
    __syncthreads();
    return total;
}

#define GRID_STRIDE(i, n) \
    for (i64 i = blockIdx.x * (i64) blockDim.x + threadIdx.x; i < (n); i += (i64) blockDim.x * gridDim.x)

/** Instantiates M(suffix, storage type) for float32 and bfloat16 tensors. */
#define FOR_TYPES(M) M(f32, float) M(bf16, bf16)
