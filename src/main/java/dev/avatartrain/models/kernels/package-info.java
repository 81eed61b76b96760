/**
 * Hand-written forward and backward passes over float32 buffers, recorded on a {@link
 * dev.avatartrain.models.kernels.Tape}: the tape backend of the networks' layer vocabulary
 * ({@link dev.avatartrain.models.nn.Ops}), because SameDiff's composition of these layers is slow (DESIGN.md §4;
 * docs/benchmarks.md "Network layers"). Convolutions and matrix products still run in libnd4j (oneDNN, BLAS);
 * normalisations, activations, softmax and layout changes are fused loops here. The graph backend runs the same
 * definitions and is what these passes are tested against.
 */
package dev.avatartrain.models.kernels;
