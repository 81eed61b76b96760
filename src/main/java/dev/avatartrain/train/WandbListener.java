package dev.avatartrain.train;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

import org.yaml.snakeyaml.Yaml;

import dev.avatartrain.config.AppConfig;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.storage.StorageUrl;
import dev.avatartrain.wandb.WandbSidecar;

/**
 * With {@code wandb_enabled}: the run streamed live to W&amp;B through {@link WandbSidecar}: the effective
 * configuration as {@code wandb.config}, every metrics row under the names of the TensorBoard events
 * ({@code train/loss}, {@code validation/loss}, ...), the validation grid as image {@code validation/grid}, and at the end the loss plot and
 * a reference artifact to the final checkpoint. The W&amp;B run id is the run's id, so a resumed session continues it.
 */
public final class WandbListener implements TrainingListener {
    private final WandbSidecar sidecar;
    private final Storage out;
    private final String runId;
    private String lastCheckpoint;

    private WandbListener(WandbSidecar sidecar, Storage out, String runId) {
        this.sidecar = sidecar;
        this.out = out;
        this.runId = runId;
    }

    /** The listener, or null when W&amp;B is off or its sidecar cannot start (it has said why). */
    public static WandbListener start(AppConfig config, Storage out, String runId) {
        if (!config.train().wandbEnabled()) return null;
        @SuppressWarnings("unchecked")
        Map<String, Object> values = new Yaml().loadAs(config.toYaml(), Map.class);
        values.put("config_sha256", config.hash());
        values.put("output_dir", out.locations().get(0).toString());
        String id = runId.toLowerCase(java.util.Locale.ROOT).replaceAll("[^a-z0-9_-]", "-");
        String name = out.locations().get(0).toString().replaceAll("/+$", "").replaceAll(".*/", "");
        WandbSidecar s = WandbSidecar.start(id, name, values);
        return s == null ? null : new WandbListener(s, out, id);
    }

    @Override
    public void round(Round r) {
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("train/loss", r.loss());
        v.put("train/learning_rate", r.lr());
        v.put("train/grad_norm", r.gradNorm());
        v.put("train/samples_per_second", r.samplesPerSecond());
        v.put("train/round_seconds", r.seconds());
        sidecar.log(r.step(), v);
    }

    @Override
    public void validated(long step, Map<String, Object> values) throws IOException {
        Map<String, Object> v = new LinkedHashMap<>();
        values.forEach((k, x) -> {
            if (!k.equals("step")) v.put("validation/" + (k.startsWith("val_") ? k.substring(4) : k), x);
        });
        sidecar.log(step, v);
        if (values.get("grid") instanceof String grid && out.exists(grid)) {
            sidecar.image(step, "validation/grid", out.readAll(grid), "step " + step);
        }
    }

    @Override
    public void checkpointed(long step, String location) {
        lastCheckpoint = location;
    }

    @Override
    public void finished(long step) throws IOException {
        if (out.exists(Metrics.PLOT)) sidecar.image(step, "loss", out.readAll(Metrics.PLOT), "loss at step " + step);
        if (lastCheckpoint != null) sidecar.artifact(runId + "-checkpoint", "model", referenceUri(lastCheckpoint));
        sidecar.finish(0);
    }

    /** A URI W&amp;B can reference: {@code file://} for a local path, {@code s3://} for {@code s3a://}. */
    static String referenceUri(String location) {
        StorageUrl u = StorageUrl.parse(location, "checkpoint");
        if (u.isLocal()) return u.localPath().toAbsolutePath().toUri().toString();
        return location.replaceFirst("^s3[an]://", "s3://");
    }

    /** After a failure (no {@link #finished}): the W&amp;B run ends as failed. */
    @Override
    public void close() {
        sidecar.close();
    }
}
