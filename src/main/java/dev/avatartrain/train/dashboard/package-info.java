/** The training run's live HTML dashboard: loss curves and samples written beside the checkpoints. */
package dev.avatartrain.train.dashboard;
