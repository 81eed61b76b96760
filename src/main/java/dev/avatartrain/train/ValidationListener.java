package dev.avatartrain.train;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.avatartrain.models.nn.Network;

/**
 * Validates the averaged weights on the driver's network at step 0 of a fresh run, every {@code validation_steps} and
 * at the last step, and publishes the results to every listener.
 */
final class ValidationListener implements TrainingListener {
    private final Trainer.Validator validator;
    private final Network net;
    private final long every;
    private final TrainingListener publish;
    private final List<Map<String, Object>> results = new ArrayList<>();

    ValidationListener(Trainer.Validator validator, Network driverNet, long every, TrainingListener publish) {
        this.validator = validator;
        this.net = driverNet;
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
        state.copyInto(net);
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("step", step);
        v.putAll(validator.validate(net, step));
        results.add(v);
        publish.validated(step, v);
    }
}
