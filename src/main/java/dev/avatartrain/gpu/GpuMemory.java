package dev.avatartrain.gpu;

/**
 * Memory of one GPU as the driver reports it.
 *
 * @param index      the GPU's nvidia-smi index
 * @param freeBytes  not allocated by any process
 * @param totalBytes on the board
 */
public record GpuMemory(int index, long freeBytes, long totalBytes) {}
