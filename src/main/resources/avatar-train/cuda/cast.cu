// float32 <-> bfloat16 copies (round to nearest even; see common.cuh).
#include "common.cuh"

extern "C" __global__ void cast_f32_to_bf16(const float* x, bf16* y, i64 n) {
    GRID_STRIDE(i, n) y[i] = f32_to_bf16(x[i]);
}

extern "C" __global__ void cast_bf16_to_f32(const bf16* x, float* y, i64 n) {
    GRID_STRIDE(i, n) y[i] = to_f32(x[i]);
}
