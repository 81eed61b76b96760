/**
 * Networks defined once, run on two backends: a {@link dev.avatartrain.models.nn.Definition} writes the forward pass
 * against the layer vocabulary {@link dev.avatartrain.models.nn.Ops}, whose implementations are the tape kernels
 * (training and inference on the CPU) and a SameDiff graph (float64 checks, CUDA); {@link
 * dev.avatartrain.models.nn.DefinedNetwork} owns the parameters under PyTorch names and picks the backend once.
 * Strict name-for-name loading and export ({@link dev.avatartrain.models.nn.NamedWeights}). SameDiff stays inside
 * this package.
 */
package dev.avatartrain.models.nn;
