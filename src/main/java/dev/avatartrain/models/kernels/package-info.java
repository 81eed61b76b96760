/**
 * Hand-written forward and backward passes over float32 buffers, recorded on a {@link
 * dev.avatartrain.models.kernels.Tape}, for the training path of networks whose SameDiff composition is slow
 * (DESIGN.md §4; docs/benchmarks.md "Network layers"). Convolutions and matrix products still run in libnd4j
 * (oneDNN, BLAS); normalisations, activations, softmax and layout changes are fused loops here. Each network's
 * SameDiff graph stays the reference these passes are tested against.
 */
package dev.avatartrain.models.kernels;
