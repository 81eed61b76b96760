/**
 * Data-parallel training without Spark (DESIGN.md §3, docs/engine.md): a worker's steps over a collective with
 * gradients in buckets, reduce-scattered while the backward pass runs, and AdamW on its shard
 * ({@link dev.avatartrain.train.DataParallelWorker}, {@link dev.avatartrain.train.TrainingSegment}), the checkpoint
 * pieces the workers write ({@link dev.avatartrain.train.CheckpointPieces}, {@link dev.avatartrain.train.Checkpoints}),
 * the listeners that report a run on the driver, and the optimizer step of single-machine training
 * ({@link dev.avatartrain.train.StepRunner}). What is trained is a {@link dev.avatartrain.train.TrainingTask}; the
 * engine on Spark is in {@code train.spark}.
 */
package dev.avatartrain.train;
