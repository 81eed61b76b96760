/**
 * The one training engine (DESIGN.md §3): parameter averaging on Spark ({@link dev.avatartrain.train.ParameterAveraging}),
 * the driver's loop with validation, checkpoints, metrics and exact resume ({@link dev.avatartrain.train.Trainer}), and
 * the optimizer step shared with single-machine training ({@link dev.avatartrain.train.StepRunner}). What is trained is
 * a {@link dev.avatartrain.train.TrainingTask}.
 */
package dev.avatartrain.train;
