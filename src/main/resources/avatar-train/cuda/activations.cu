// Element-wise activations (SiLU, GELU, ReLU by code), diffusers' GEGLU and the tanh clamp, forward and backward.
#include "common.cuh"

#define ACTIVATIONS(sfx, T)                                                                                           \
    extern "C" __global__ void act_fwd_##sfx(const T* x, T* y, i64 n, int act) {                                     \
        GRID_STRIDE(i, n) store(y, i, act_apply(act, to_f32(x[i])));                                                  \
    }                                                                                                                 \
    /* dx = dy·act'(x); dx may be dy */                                                                               \
    extern "C" __global__ void act_bwd_##sfx(const T* x, const T* dy, T* dx, i64 n, int act) {                       \
        GRID_STRIDE(i, n) store(dx, i, to_f32(dy[i]) * act_derivative(act, to_f32(x[i])));                            \
    }                                                                                                                 \
    /* proj [R, 2H] -> y [R, H] = proj[:, :H] · gelu(proj[:, H:]) */                                                  \
    extern "C" __global__ void geglu_fwd_##sfx(const T* proj, T* y, i64 rows, int H) {                               \
        GRID_STRIDE(i, rows * H) {                                                                                    \
            i64 r = i / H, j = i % H;                                                                                 \
            float a = to_f32(proj[r * 2 * H + j]), g = to_f32(proj[r * 2 * H + H + j]);                               \
            store(y, i, a * act_apply(ACT_GELU, g));                                                                  \
        }                                                                                                             \
    }                                                                                                                 \
    extern "C" __global__ void geglu_bwd_##sfx(const T* proj, const T* dy, T* dproj, i64 rows, int H) {              \
        GRID_STRIDE(i, rows * H) {                                                                                    \
            i64 r = i / H, j = i % H;                                                                                 \
            float a = to_f32(proj[r * 2 * H + j]), g = to_f32(proj[r * 2 * H + H + j]), d = to_f32(dy[i]);            \
            store(dproj, r * 2 * H + j, d * act_apply(ACT_GELU, g));                                                  \
            store(dproj, r * 2 * H + H + j, d * a * act_derivative(ACT_GELU, g));                                     \
        }                                                                                                             \
    }                                                                                                                 \
    /* y = limit·tanh(x / limit) */                                                                                   \
    extern "C" __global__ void tanh_clamp_fwd_##sfx(const T* x, T* y, i64 n, float limit) {                          \
        GRID_STRIDE(i, n) store(y, i, limit * tanhf(to_f32(x[i]) / limit));                                           \
    }                                                                                                                 \
    extern "C" __global__ void tanh_clamp_bwd_##sfx(const T* x, const T* dy, T* dx, i64 n, float limit) {            \
        GRID_STRIDE(i, n) {                                                                                           \
            float t = tanhf(to_f32(x[i]) / limit);                                                                    \
            store(dx, i, to_f32(dy[i]) * (1.f - t * t));                                                              \
        }                                                                                                             \
    }
FOR_TYPES(ACTIVATIONS)
