// Row softmax of the fp32 attention path: probs = softmax(scale · scores) over rows [R, L] (the scores of one query
// against all keys, from a strided-batched GEMM), and its backward ds = scale · p · (dp − Σ p·dp). One block per row.
#include "common.cuh"

#define NEG_INF __int_as_float(0xff800000)

__device__ float block_max(float v) {
    __shared__ float part[32];
    __shared__ float total;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    __syncthreads();
    if (lane == 0) part[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float s = lane < (int) (blockDim.x >> 5) ? part[lane] : NEG_INF;
        for (int o = 16; o > 0; o >>= 1) s = fmaxf(s, __shfl_xor_sync(0xffffffffu, s, o));
        if (lane == 0) total = s;
    }
    __syncthreads();
    return total;
}

extern "C" __global__ void softmax_fwd_f32(const float* s, float* p, int L, float scale) {
    i64 base = (i64) blockIdx.x * L;
    float mx = NEG_INF;
    for (int j = threadIdx.x; j < L; j += blockDim.x) mx = fmaxf(mx, s[base + j] * scale);
    mx = block_max(mx);
    float sum = 0.f;
    for (int j = threadIdx.x; j < L; j += blockDim.x) {
        float e = expf(s[base + j] * scale - mx);
        p[base + j] = e;
        sum += e;
    }
    float inv = 1.f / block_sum(sum);
    for (int j = threadIdx.x; j < L; j += blockDim.x) p[base + j] *= inv;
}

// ds may be dp.
extern "C" __global__ void softmax_bwd_f32(const float* p, const float* dp, float* ds, int L, float scale) {
    i64 base = (i64) blockIdx.x * L;
    float dot = 0.f;
    for (int j = threadIdx.x; j < L; j += blockDim.x) dot += p[base + j] * dp[base + j];
    dot = block_sum(dot);
    for (int j = threadIdx.x; j < L; j += blockDim.x) ds[base + j] = scale * p[base + j] * (dp[base + j] - dot);
}
