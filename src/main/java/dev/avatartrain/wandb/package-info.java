/**
 * Weights &amp; Biases: a Python sidecar, shipped in the jar, that the driver feeds the run's configuration, metrics
 * rows, validation images and final checkpoint, and that streams them live through the {@code wandb} SDK.
 */
package dev.avatartrain.wandb;
