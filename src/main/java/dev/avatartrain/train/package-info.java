/**
 * The one training engine (DESIGN.md §3, docs/engine.md): data-parallel rounds on Spark with the state moved in chunks
 * of a flat float32 buffer ({@link dev.avatartrain.train.ParameterAveraging}, {@link dev.avatartrain.train.FlatLayout},
 * {@link dev.avatartrain.train.ModelState}), the driver's loop with validation, checkpoints, metrics and exact resume
 * ({@link dev.avatartrain.train.Trainer}), and the optimizer step shared with single-machine training
 * ({@link dev.avatartrain.train.StepRunner}). What is trained is a {@link dev.avatartrain.train.TrainingTask}.
 */
package dev.avatartrain.train;
