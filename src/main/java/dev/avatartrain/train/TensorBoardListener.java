package dev.avatartrain.train;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.avatartrain.config.AppConfig;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.tensorboard.EventFileWriter;
import dev.avatartrain.tensorboard.Events;

/**
 * The run as TensorBoard events under {@code output_dir/tensorboard/}: scalars {@code train/loss},
 * {@code train/learning_rate}, {@code train/grad_norm}, {@code train/samples_per_second} per round,
 * {@code validation/<name>} per validation (a {@code val_} prefix dropped), the validation grid as image
 * {@code validation/grid}, and the effective configuration as text {@code config}.
 */
public final class TensorBoardListener implements TrainingListener {
    private static final Logger LOG = LoggerFactory.getLogger(TensorBoardListener.class);
    private final Storage out;
    private final AppConfig config;
    private final EventFileWriter events;

    public TensorBoardListener(Storage outputDir, AppConfig config) throws IOException {
        this.out = outputDir;
        this.config = config;
        this.events = EventFileWriter.open(outputDir);
    }

    private static double now() {
        return System.currentTimeMillis() / 1000.0;
    }

    @Override
    public void started(Start s) throws IOException {
        // a resumed run replaces what an earlier session wrote after this run's checkpoint
        if (s.startStep() > 0) events.write(Events.sessionStart(now(), s.startStep() + 1));
        String yaml = "# sha256 " + config.hash() + "\n" + config.toYaml();
        events.write(Events.text(now(), s.startStep(), "config", yaml.indent(4)));
        events.flush();
        LOG.info("train: TensorBoard events in {} (tensorboard --logdir {})", events.directory(), events.directory());
    }

    @Override
    public void round(Round r) throws IOException {
        Map<String, Double> v = new LinkedHashMap<>();
        v.put("train/loss", r.loss());
        v.put("train/learning_rate", r.lr());
        v.put("train/grad_norm", r.gradNorm());
        v.put("train/samples_per_second", r.samplesPerSecond());
        events.write(Events.scalars(now(), r.step(), v));
    }

    @Override
    public void validated(long step, Map<String, Object> values) throws IOException {
        Map<String, Double> v = new LinkedHashMap<>();
        values.forEach((k, x) -> {
            if (!k.equals("step") && x instanceof Number n) v.put("validation/" + (k.startsWith("val_") ? k.substring(4) : k), n.doubleValue());
        });
        events.write(Events.scalars(now(), step, v));
        if (values.get("grid") instanceof String grid && out.exists(grid)) {
            byte[] png = out.readAll(grid);
            events.write(Events.image(now(), step, "validation/grid", png, pngInt(png, 16), pngInt(png, 20)));
        }
        events.flush();
    }

    @Override
    public void checkpointed(long step, String location) throws IOException {
        events.flush();
    }

    @Override
    public void finished(long step) throws IOException {
        events.flush();
    }

    @Override
    public void close() {
        try {
            events.close();
        } catch (IOException e) {
            LOG.warn("could not close the TensorBoard events in {}: {}", events.directory(), e.toString());
        }
    }

    /** Width (offset 16) or height (20) from a PNG's IHDR chunk. */
    private static int pngInt(byte[] png, int offset) {
        if (png.length < 24) return 0;
        return ((png[offset] & 255) << 24) | ((png[offset + 1] & 255) << 16) | ((png[offset + 2] & 255) << 8) | (png[offset + 3] & 255);
    }
}
