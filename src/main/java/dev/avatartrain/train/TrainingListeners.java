package dev.avatartrain.train;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The listeners of one run, called in order. Listeners that produce events of their own (validation results,
 * checkpoints) publish them through this object, so every listener sees them.
 */
public final class TrainingListeners implements TrainingListener {
    private static final Logger LOG = LoggerFactory.getLogger(TrainingListeners.class);
    private final List<TrainingListener> all = new ArrayList<>();

    public <L extends TrainingListener> L add(L listener) {
        if (listener != null) all.add(listener);
        return listener;
    }

    @Override
    public void started(Start s) throws IOException {
        for (TrainingListener l : all) l.started(s);
    }

    @Override
    public void round(Round r) throws IOException {
        for (TrainingListener l : all) l.round(r);
    }

    @Override
    public void validated(long step, Map<String, Object> values) throws IOException {
        for (TrainingListener l : all) l.validated(step, values);
    }

    @Override
    public void checkpointed(long step, String location) throws IOException {
        for (TrainingListener l : all) l.checkpointed(step, location);
    }

    @Override
    public void finished(long step) throws IOException {
        for (TrainingListener l : all) l.finished(step);
    }

    /** Closes every listener, last first; a failure to close one is logged and the others are still closed. */
    @Override
    public void close() {
        for (int i = all.size() - 1; i >= 0; i--) {
            try {
                all.get(i).close();
            } catch (RuntimeException e) {
                LOG.warn("closing {} failed: {}", all.get(i).getClass().getSimpleName(), e.toString());
            }
        }
    }
}
