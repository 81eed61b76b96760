/**
 * The training engine on Spark: each training segment is one barrier stage of long-lived workers that exchange
 * gradients peer to peer ({@link dev.avatartrain.train.spark.SegmentTask}); the driver schedules, receives each step's
 * metrics and commits the checkpoints the workers write ({@link dev.avatartrain.train.spark.SparkTrainer}).
 */
package dev.avatartrain.train.spark;
