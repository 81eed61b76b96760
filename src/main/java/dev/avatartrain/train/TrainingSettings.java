package dev.avatartrain.train;

import java.io.Serializable;

import dev.avatartrain.train.optim.LrSchedule;

/**
 * What stays fixed over a run, as the workers need it: accumulation, clipping, schedule, AdamW's hyperparameters,
 * the seed, {@code averaging_frequency} (1: gradients averaged every step; H &gt; 1: parameters and moments averaged
 * every H local steps) and the size of the exchange's buckets.
 */
public record TrainingSettings(int accumulation, double maxGradNorm, LrSchedule schedule, double beta1, double beta2,
                               double epsilon, double weightDecay, long seed, int averagingFrequency, int bucketFloats)
        implements Serializable {
    public TrainingSettings {
        if (accumulation < 1) throw new IllegalArgumentException("gradient accumulation must be >= 1, got " + accumulation);
        if (averagingFrequency < 1) throw new IllegalArgumentException("averaging_frequency must be >= 1, got " + averagingFrequency);
        if (bucketFloats < 1) throw new IllegalArgumentException("bucket size must be >= 1 float, got " + bucketFloats);
    }

    /** Whether gradients are averaged every step (ZeRO-1, exact data-parallel training). */
    public boolean exact() {
        return averagingFrequency == 1;
    }
}
