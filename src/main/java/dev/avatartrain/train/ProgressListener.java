package dev.avatartrain.train;

import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.avatartrain.config.AppConfig;

/** The console side of a run, at INFO: the run's shape, a progress line per optimizer step, validation results, checkpoints. */
public final class ProgressListener implements TrainingListener {
    private static final Logger LOG = LoggerFactory.getLogger(ProgressListener.class);
    private final AppConfig config;
    private long startedNanos, startStep;

    public ProgressListener(AppConfig config) {
        this.config = config;
    }

    @Override
    public void started(Start s) {
        startedNanos = System.nanoTime();
        startStep = s.startStep();
        var t = config.train();
        var o = config.optimizer();
        LOG.info(String.format("train: %d workers × batch %d × accumulation %d = %d samples per optimizer step; %d steps, averaging every %d;"
                        + " learning rate %.3g (%s, warm-up %d)", s.workers(), t.trainBatchSize(), t.gradientAccumulationSteps(),
                s.samplesPerStep(), s.maxSteps(), t.averagingFrequency(), s.baseLr(), o.lrScheduler(), o.lrWarmupSteps()));
    }

    @Override
    public void round(Round r) {
        long max = config.train().maxTrainSteps();
        double elapsed = (System.nanoTime() - startedNanos) / 1e9;
        double eta = r.step() == startStep ? 0 : elapsed / (r.step() - startStep) * (max - r.step());
        LOG.info(String.format("step %d/%d  loss %.5f  lr %.3g  grad-norm %.3g  %.1f samples/s  ETA %s", r.step(), max, r.loss(), r.lr(),
                r.gradNorm(), r.samplesPerSecond(), duration(eta)));
    }

    static String duration(double seconds) {
        long s = Math.round(seconds);
        return String.format("%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
    }

    @Override
    public void validated(long step, Map<String, Object> values) {
        StringBuilder line = new StringBuilder("validation at step " + step + ":");
        values.forEach((k, x) -> {
            if (!k.equals("step")) line.append("  ").append(k).append(' ').append(x instanceof Double d ? String.format("%.5f", d) : x);
        });
        LOG.info(line.toString());
    }

    @Override
    public void checkpointed(long step, String location) {
        LOG.info("train: checkpoint {}", location);
    }
}
