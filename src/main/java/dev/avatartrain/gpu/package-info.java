/**
 * GPUs on this machine and what this build can do with them: the NVIDIA GPUs seen ({@code nvidia-smi}), whether the
 * CUDA backend in the jar covers their compute capability, which ND4J backend loaded, and the check every task that
 * Spark assigned a GPU runs before it computes ({@link dev.avatartrain.gpu.GpuCheck}).
 */
package dev.avatartrain.gpu;
