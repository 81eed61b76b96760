package dev.avatartrain.train;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

import dev.avatartrain.config.AppConfig;

/** Writes a checkpoint every {@code checkpointing_steps} and at the last step, and publishes its location. */
final class CheckpointListener implements TrainingListener {
    private final Checkpoints checkpoints;
    private final AppConfig config;
    private final TrainingTask task;
    private final TrainingListener publish;
    private String last;

    /** {@code last}: the checkpoint this run resumed from, or null. */
    CheckpointListener(Checkpoints checkpoints, AppConfig config, TrainingTask task, String last, TrainingListener publish) {
        this.checkpoints = checkpoints;
        this.config = config;
        this.task = task;
        this.last = last;
        this.publish = publish;
    }

    /** The newest complete checkpoint of this run (or the one it resumed from); null when none. */
    String last() {
        return last;
    }

    @Override
    public void round(Round r) throws IOException {
        if (!Trainer.crossed(r.previousStep(), r.step(), config.train().checkpointingSteps()) && !r.last()) return;
        Map<String, Object> info = new LinkedHashMap<>(task.checkpointInfo()); // e.g. the UNet's audio positional encoding
        info.put("train_loss", r.loss());
        last = checkpoints.write(new Checkpoints.State(r.step(), r.round(), config.train().seed(), Trainer.trainingHash(config),
                task.networkKey(), info), r.state());
        publish.checkpointed(r.step(), last);
    }
}
