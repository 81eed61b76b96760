package dev.avatartrain.jobs;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.apache.spark.sql.SparkSession;

import dev.avatartrain.config.AppConfig;
import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.config.ProjectPaths;
import dev.avatartrain.models.taesd.TaesdSource;
import dev.avatartrain.synth.SyntheticClips;
import dev.avatartrain.train.Checkpoints;
import dev.avatartrain.train.Metrics;
import dev.avatartrain.train.spark.SparkTrainer;

/**
 * {@code avatar-train demo}: the whole pipeline on generated data with {@code configuration/demo}: synth →
 * make-metadata → encode → train (tiny UNet, local Spark, 2 partitions) → validation grid, loss plot, checkpoint;
 * then synth --adapter → train-adapter (tiny adapter toward a random teacher).
 * Each stage is the same code its own command runs. Starts fresh each time (removes its output_dir).
 */
public final class DemoJob {
    private static final Logger LOG = LoggerFactory.getLogger(DemoJob.class);
    private DemoJob() {}

    public static Path demoConfigDir() {
        return ProjectPaths.resolve("configuration/demo");
    }

    /** The file that marks a folder as made by {@code demo}: only such a folder is cleared by the next demo. */
    public static final String MARKER = ".avatar-train-demo";

    /**
     * Empties {@code out} for a new demo when an earlier demo made it (it holds {@value #MARKER}), creates it when
     * missing, and refuses any other non-empty folder: a typo in {@code data.output_dir} never deletes a user's files.
     */
    static void prepareOutput(Path out) throws IOException {
        if (Files.isDirectory(out)) {
            boolean empty;
            try (var list = Files.list(out)) {
                empty = list.findAny().isEmpty();
            }
            if (!empty && !Files.isRegularFile(out.resolve(MARKER))) {
                throw new BadInputException("demo: data.output_dir " + out.toAbsolutePath() + " is not empty and"
                        + " was not made by demo (no " + MARKER + " in it), so demo will not clear it; give an empty"
                        + " or new folder (--set data.output_dir=...).");
            }
            try (var walk = Files.walk(out)) {
                for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    if (!p.equals(out)) Files.delete(p);
                }
            }
        } else if (Files.exists(out)) {
            throw new BadInputException("demo: data.output_dir " + out.toAbsolutePath() + " is a file, not a folder.");
        }
        Files.createDirectories(out);
        Files.writeString(out.resolve(MARKER), "made by avatar-train demo; the next demo into this folder clears it\n");
    }

    public static void run(AppConfig config, String master) throws IOException {
        long start = System.nanoTime();
        Path out = Path.of(config.data().outputDir());
        Path data = Path.of(config.data().localDataBaseUrl());
        prepareOutput(out);
        LOG.info("demo 1/5 synth: sample clips whose mouth follows their audio features → " + data);
        SynthJob.run(data, new SyntheticClips.Spec(6, 40, config.data().imageSize(), 4, 32, config.train().seed(),
                config.data().imageFolderName(), config.data().audioFolderName()));
        SparkSession spark = SparkSetup.session("avatar-train demo", master);
        try {
            LOG.info("demo 2/5 make-metadata → " + config.data().metadataUrl());
            MakeMetadataJob.run(spark, new MakeMetadataJob.Options(MakeMetadataJob.Mode.scan, data.toString(),
                    config.data().metadataUrl(), null, false, false, config.data().imageFolderName(), config.data().audioFolderName()));
            LOG.info("demo 3/5 encode");
            TaesdSource vae = TaesdSource.resolve(config.model().vaePretrainedModelNameOrPath(), EncodeJob.vaeCache(), null);
            if (vae.isRandom()) {
                LOG.info("demo: the TAESD is seeded random weights (model.vae_pretrained_model_name_or_path: "
                        + config.model().vaePretrainedModelNameOrPath() + "); point that key at real taesd weights (a local folder,"
                        + " a Hugging Face cache folder, or s3a://) to train in a real latent space.");
            }
            EncodeJob.run(spark, config);
            LOG.info("demo 4/5 train");
            SparkTrainer.Result r = TrainJob.run(spark, config, 0);
            Map<String, Object> first = r.validations().get(0), last = r.validations().get(r.validations().size() - 1);
            LOG.info(String.format("demo: validation loss %.4f (step %s) → %.4f (step %s); mouth PSNR %.1f → %.1f dB",
                    (Double) first.get("val_loss"), first.get("step"), (Double) last.get("val_loss"), last.get("step"),
                    (Double) first.get("val_mouth_psnr_db"), (Double) last.get("val_mouth_psnr_db")));
            LOG.info("demo 5/5 train-adapter: a tiny audio adapter toward a random teacher (synth --adapter)");
            dev.avatartrain.train.adapter.AdapterOptions adapter = dev.avatartrain.train.adapter.AdapterOptions.load(
                    ProjectPaths.resolve("configuration/demo/train_adapter.yaml"), List.of(), Map.of());
            dev.avatartrain.synth.SyntheticAdapterData.write(Path.of(adapter.manifest()).getParent(), adapter.model(), 24,
                    config.train().seed());
            SparkTrainer.Result ar = TrainAdapterJob.run(spark, adapter, demoConfigDir().toString(), false);
            Map<String, Object> af = ar.validations().get(0), al = ar.validations().get(ar.validations().size() - 1);
            LOG.info(String.format("demo: UNet validation loss %.4f → %.4f; adapter validation loss %.4f → %.4f (token cosine %.3f → %.3f)",
                    (Double) first.get("val_loss"), (Double) last.get("val_loss"), (Double) af.get("val_loss"), (Double) al.get("val_loss"),
                    (Double) af.get("val_token_cosine"), (Double) al.get("val_token_cosine")));
            LOG.info(String.format("demo: done in %.0f s. Outputs in %s: %s, %s, validation/latest.png, %s/ (model.safetensors = diffusers names)",
                    (System.nanoTime() - start) / 1e9, out.toAbsolutePath(), Metrics.PLOT, Metrics.CSV, Checkpoints.DIR));
        } finally {
            spark.stop();
        }
    }
}
