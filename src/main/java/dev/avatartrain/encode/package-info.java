/** The latent cache that {@code encode} writes and {@code train} reads: per-clip safetensors and their index. */
package dev.avatartrain.encode;
