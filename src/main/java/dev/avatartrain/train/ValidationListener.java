package dev.avatartrain.train;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.avatartrain.models.nn.Network;

/**
 * Validates the averaged weights at step 0 of a fresh run, every {@code validation_steps} and at the last step, and
 * publishes the results to every listener. The network it validates on is built for each validation and released
 * after it, so the driver holds a network's memory only while validating.
 */
final class ValidationListener implements TrainingListener {
    private final Trainer.Validator validator;
    private final TrainingTask task;
    private final long every;
    private final TrainingListener publish;
    private final List<Map<String, Object>> results = new ArrayList<>();

    ValidationListener(Trainer.Validator validator, TrainingTask task, long every, TrainingListener publish) {
        this.validator = validator;
        this.task = task;
        this.every = every;
        this.publish = publish;
    }

    List<Map<String, Object>> results() {
        return results;
    }

    @Override
    public void started(Start s) throws IOException {
        if (s.startStep() == 0) validate(s.state(), 0);
    }

    @Override
    public void round(Round r) throws IOException {
        if (Trainer.crossed(r.previousStep(), r.step(), every) || r.last()) validate(r.state(), r.step());
    }

    private void validate(ModelState state, long step) throws IOException {
        Network net = task.buildNetwork();
        Map<String, Object> v = new LinkedHashMap<>();
        try {
            state.copyInto(net);
            v.put("step", step);
            v.putAll(validator.validate(net, step));
        } finally {
            net.release();
        }
        results.add(v);
        publish.validated(step, v);
        Object loss = v.get("val_loss");
        if (loss instanceof Number n && !Double.isFinite(n.doubleValue())) {
            throw new Trainer.TrainingDivergedException("train: the validation loss is " + n + " at step " + step
                    + "; stopped. The validation clips hold NaN or infinite audio features or latents (run encode again:"
                    + " it skips such frames and lists them), or the weights diverged.");
        }
    }
}
