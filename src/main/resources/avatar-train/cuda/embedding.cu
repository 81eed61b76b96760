// diffusers' Timesteps: [cos, sin] (or [sin, cos]) of t·exp(-ln(10000)·i / (half - shift)), frequencies in float32 as
// TapeOps computes them on the host; an odd dim's last column is 0.
#include "common.cuh"

#define EMBEDDING(sfx, T)                                                                                             \
    extern "C" __global__ void timestep_embedding_##sfx(const float* t, T* y, int B, int dim, float shift,           \
                                                        int flip_sin_to_cos) {                                        \
        int half = dim / 2;                                                                                           \
        GRID_STRIDE(i, (i64) B * dim) {                                                                               \
            int r = (int) (i / dim), j = (int) (i % dim);                                                             \
            float v = 0.f;                                                                                            \
            if (j < 2 * half) {                                                                                       \
                int k = j < half ? j : j - half;                                                                      \
                float f = expf((-9.210340371976184f * k) / ((float) half - shift));                                  \
                float arg = t[r] * f;                                                                                 \
                bool first = j < half;                                                                                \
                v = (first == (flip_sin_to_cos != 0)) ? cosf(arg) : sinf(arg);                                        \
            }                                                                                                         \
            store(y, i, v);                                                                                           \
        }                                                                                                             \
    }
FOR_TYPES(EMBEDDING)
