/**
 * The CUDA side of the networks' layer vocabulary: CUDA C kernels (resources under {@code avatar-train/cuda/})
 * compiled by NVRTC for the GPU's own architecture, the native libraries they need and where they are found, and the
 * pure-Java planning around them (launch geometry, tensor layouts, workspace sizes, bfloat16 rounding, the order of
 * the device tape's backward steps). Not yet run on a GPU: see docs/cuda.md.
 */
package dev.avatartrain.models.cuda;
