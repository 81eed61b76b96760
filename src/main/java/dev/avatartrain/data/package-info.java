/**
 * Training samples and batches, without Spark: frame images to tensors, per-clip latents, the audio window
 * of a frame, the UNet's (masked target ‖ reference, audio, target) samples, and the train/validation split by clip.
 */
package dev.avatartrain.data;
