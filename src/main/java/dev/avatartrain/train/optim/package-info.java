/**
 * The optimizer step as PyTorch and diffusers take it: learning-rate schedules, global-norm gradient
 * clipping and AdamW with state the training engine can average across workers and checkpoint.
 */
package dev.avatartrain.train.optim;
