/**
 * Tensor files, one API for all: safetensors (read memory-mapped, write atomically), PyTorch {@code torch.save}
 * archives through a restricted unpickler that executes nothing, and numpy's {@code .npy} / {@code .npz}.
 * {@link dev.avatartrain.tensors.TensorFiles} reads any of them by extension.
 */
package dev.avatartrain.tensors;
