// Layout moves: concatenation and its split, bottom-right zero padding and its crop, nearest 2x upsampling and its
// 2x2 sum, and the batched transpose behind [B, C, H·W] <-> [B, H·W, C] (tokens).
#include "common.cuh"

#define TILE 32

#define LAYOUT(sfx, T)                                                                                                \
    /* y [outer, na + nb] from a [outer, na] and b [outer, nb]: concatenation along any axis */                      \
    extern "C" __global__ void concat_##sfx(const T* a, const T* b, T* y, i64 outer, i64 na, i64 nb) {               \
        GRID_STRIDE(i, outer * (na + nb)) {                                                                           \
            i64 o = i / (na + nb), j = i % (na + nb);                                                                 \
            y[i] = j < na ? a[o * na + j] : b[o * nb + j - na];                                                       \
        }                                                                                                             \
    }                                                                                                                 \
    extern "C" __global__ void split_##sfx(const T* dy, T* da, T* db, i64 outer, i64 na, i64 nb) {                   \
        GRID_STRIDE(i, outer * (na + nb)) {                                                                           \
            i64 o = i / (na + nb), j = i % (na + nb);                                                                 \
            if (j < na) {                                                                                             \
                if (da) da[o * na + j] = dy[i];                                                                       \
            } else if (db) {                                                                                          \
                db[o * nb + j - na] = dy[i];                                                                          \
            }                                                                                                         \
        }                                                                                                             \
    }                                                                                                                 \
    /* planes [P, H, W] -> [P, H+1, W+1], zeros in the new row and column */                                         \
    extern "C" __global__ void pad_bottom_right_##sfx(const T* x, T* y, i64 P, int H, int W) {                       \
        GRID_STRIDE(i, P * (H + 1) * (W + 1)) {                                                                       \
            i64 p = i / ((H + 1) * (W + 1));                                                                          \
            int r = (int) (i / (W + 1) % (H + 1)), c = (int) (i % (W + 1));                                           \
            y[i] = r < H && c < W ? x[(p * H + r) * W + c] : (T) 0;                                                   \
        }                                                                                                             \
    }                                                                                                                 \
    extern "C" __global__ void crop_bottom_right_##sfx(const T* dy, T* dx, i64 P, int H, int W) {                    \
        GRID_STRIDE(i, P * H * W) {                                                                                   \
            i64 p = i / (H * W);                                                                                      \
            int r = (int) (i / W % H), c = (int) (i % W);                                                             \
            dx[i] = dy[(p * (H + 1) + r) * (W + 1) + c];                                                              \
        }                                                                                                             \
    }                                                                                                                 \
    /* planes [P, H, W] -> [P, 2H, 2W] */                                                                             \
    extern "C" __global__ void upsample2x_fwd_##sfx(const T* x, T* y, i64 P, int H, int W) {                         \
        GRID_STRIDE(i, P * 4 * H * W) {                                                                               \
            i64 p = i / (4 * H * W);                                                                                  \
            int r = (int) (i / (2 * W) % (2 * H)), c = (int) (i % (2 * W));                                           \
            y[i] = x[(p * H + r / 2) * W + c / 2];                                                                    \
        }                                                                                                             \
    }                                                                                                                 \
    extern "C" __global__ void upsample2x_bwd_##sfx(const T* dy, T* dx, i64 P, int H, int W) {                       \
        GRID_STRIDE(i, P * H * W) {                                                                                   \
            i64 p = i / (H * W);                                                                                      \
            int r = (int) (i / W % H), c = (int) (i % W);                                                             \
            i64 r0 = (p * 2 * H + 2 * r) * 2 * W + 2 * c, r1 = r0 + 2 * W;                                            \
            store(dx, i, to_f32(dy[r0]) + to_f32(dy[r0 + 1]) + to_f32(dy[r1]) + to_f32(dy[r1 + 1]));                  \
        }                                                                                                             \
    }                                                                                                                 \
    /* y [batch, cols, rows] = x [batch, rows, cols] transposed; 32x32 tiles, blocks (32, 8), grid (cols/32,          \
       rows/32, batch) */                                                                                             \
    extern "C" __global__ void transpose_##sfx(const T* x, T* y, int rows, int cols) {                               \
        __shared__ T tile[TILE][TILE + 1];                                                                            \
        i64 base = (i64) blockIdx.z * rows * cols;                                                                    \
        int c = blockIdx.x * TILE + threadIdx.x;                                                                      \
        for (int k = threadIdx.y; k < TILE; k += blockDim.y) {                                                        \
            int r = blockIdx.y * TILE + k;                                                                            \
            if (r < rows && c < cols) tile[k][threadIdx.x] = x[base + (i64) r * cols + c];                            \
        }                                                                                                             \
        __syncthreads();                                                                                              \
        int r = blockIdx.y * TILE + threadIdx.x;                                                                      \
        for (int k = threadIdx.y; k < TILE; k += blockDim.y) {                                                        \
            int cc = blockIdx.x * TILE + k;                                                                           \
            if (r < rows && cc < cols) y[base + (i64) cc * rows + r] = tile[threadIdx.x][k];                          \
        }                                                                                                             \
    }
FOR_TYPES(LAYOUT)
