package dev.avatartrain.jobs;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

import dev.avatartrain.config.AppConfig;
import dev.avatartrain.config.ProjectPaths;
import dev.avatartrain.config.TrainConfig;
import dev.avatartrain.data.ClipLatents;
import dev.avatartrain.data.ClipSplit;
import dev.avatartrain.encode.LatentStore;
import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.models.taesd.TaesdSource;
import dev.avatartrain.models.unet.UNetConfig;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.train.GpuAssignment;
import dev.avatartrain.train.Trainer;
import dev.avatartrain.train.unet.UNetTask;
import dev.avatartrain.train.unet.UNetValidation;

/**
 * {@code avatar-train train}: the lip-sync UNet on the latent cache, with parameter averaging on Spark
 * ({@link Trainer}). Clips are split into training and validation by clip; training clips are dealt to
 * {@code num_workers} shards (default: Spark's parallelism) balanced by frame count.
 */
public final class TrainJob {
    private static final Logger LOG = LoggerFactory.getLogger(TrainJob.class);
    private TrainJob() {}

    public static Trainer.Result run(SparkSession spark, AppConfig config, long untilStep) throws IOException {
        TrainConfig t = config.train();
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        notes(config);
        GpuAssignment.checkDevices();
        Storage out = Storage.forUrl(config.data().outputDir(), sc.hadoopConfiguration());
        TaesdSource vae = TaesdSource.resolve(config.model().vaePretrainedModelNameOrPath(), EncodeJob.vaeCache(), sc.hadoopConfiguration());
        String folder = LatentStore.folder(vae.key(), config.data().imageSize());
        LatentStore.Index index = LatentStore.readIndex(out, folder);
        Map<String, Integer> frames = new HashMap<>();
        index.clips().forEach(e -> frames.put(e.clip(), e.frames()));
        ClipSplit split = ClipSplit.of(LatentStore.clipNames(index), t.validationFraction(), t.seed());
        if (split.train().isEmpty()) throw new BadInputException(folder + "/index.json: no clip to train on");

        Path unetFile = ProjectPaths.resolve(config.model().unetConfigFile());
        String unetJson = Files.readString(unetFile);
        UNetConfig unet = UNetConfig.parse(unetJson, unetFile.toString());
        ClipLatents probe = LatentStore.readClip(out, folder, split.train().get(0));
        checkShapes(unet, probe, t, unetFile);

        int workers = Math.min(split.train().size(), EncodeJob.workers(config, sc));
        List<List<String>> shards = shards(split.train(), frames, workers);
        LOG.info("train: " + split.train().size() + " training clips in " + shards.size() + " shards, "
                + split.validation().size() + " validation clips; latents " + out.locations().get(0).child(folder));
        UNetTask task = new UNetTask(unetJson, unetFile.toString(), t.seed(), t.trainBatchSize(), t.audioLengthLeft(),
                t.audioLengthRight(), t.loss(), out, folder);
        UNetValidation validation = null;
        if (!split.validation().isEmpty()) {
            List<ClipLatents> val = new ArrayList<>();
            for (String c : split.validation()) val.add(LatentStore.readClip(out, folder, c));
            LOG.info("train: validation decodes with " + vae.describe()
                    + (vae.isRandom() ? " (grids show latent channels 0-2: random weights decode to no picture)" : ""));
            validation = new UNetValidation(val, t.audioLengthLeft(), t.audioLengthRight(), t.seed(), vae.decoder(), vae.isRandom(), out,
                    t.loss());
        } else {
            LOG.info("train: only one clip, so no validation (validation is on held-out clips, never frames)");
        }
        byte[] effective = ("# Effective configuration (sha256 " + config.hash() + ")\n" + config.toYaml()).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        out.write(AppConfig.EFFECTIVE_CONFIG_FILE, o -> o.write(effective));
        Trainer.Result r = new Trainer(sc, config, task, shards, out).run(validation, untilStep);
        if (r.validations().size() >= 2) {
            Object first = r.validations().get(0).get("val_loss"), last = r.validations().get(r.validations().size() - 1).get("val_loss");
            LOG.info(String.format("train: validation loss %.5f at step %s → %.5f at step %s", (Double) first,
                    r.validations().get(0).get("step"), (Double) last, r.validations().get(r.validations().size() - 1).get("step")));
        }
        LOG.info("train: done at step " + r.step() + "; checkpoint " + r.lastCheckpoint()
                + " (model.safetensors loads into diffusers' UNet2DConditionModel with strict=True)");
        return r;
    }

    /** Training clips dealt to {@code n} shards, largest first onto the shard with the fewest frames. */
    static List<List<String>> shards(List<String> clips, Map<String, Integer> frames, int n) {
        List<List<String>> shards = new ArrayList<>();
        long[] load = new long[n];
        for (int i = 0; i < n; i++) shards.add(new ArrayList<>());
        List<String> order = new ArrayList<>(clips);
        order.sort(Comparator.comparing((String c) -> -frames.getOrDefault(c, 0)).thenComparing(c -> c));
        for (String c : order) {
            int best = 0;
            for (int i = 1; i < n; i++) if (load[i] < load[best]) best = i;
            shards.get(best).add(c);
            load[best] += frames.getOrDefault(c, 0);
        }
        shards.forEach(s -> s.sort(null));
        return shards;
    }

    private static void checkShapes(UNetConfig unet, ClipLatents clip, TrainConfig t, Path unetFile) {
        long c = clip.latents().size(1), d = clip.audio().size(2);
        if (unet.inChannels() != 2 * c || unet.outChannels() != c) {
            throw new BadInputException(unetFile + ": in_channels " + unet.inChannels() + " and out_channels " + unet.outChannels()
                    + " must be 2×" + c + " and " + c + " for latents of " + c + " channels (masked target ‖ reference → target)");
        }
        if (unet.crossAttentionDim() != d) {
            throw new BadInputException(unetFile + ": cross_attention_dim " + unet.crossAttentionDim() + " must equal the audio feature size "
                    + d + " of clip " + clip.clip());
        }
        long h = clip.latents().size(2), m = unet.sizeMultiple();
        if (h % m != 0) {
            throw new BadInputException(unetFile + ": latents are " + h + "×" + clip.latents().size(3) + " but this UNet needs multiples of "
                    + m + "; change IMAGE_SIZE or the number of blocks");
        }
    }

    private static void notes(AppConfig config) {
        String mp = config.train().mixedPrecision();
        if (!mp.equals("no")) {
            LOG.info("train: note: mixed_precision \"" + mp + "\": training computes in float32 (ND4J SameDiff has no autocast);"
                    + " use `export --dtype " + mp + "` for half-precision weights (README, 'Mixed precision').");
        }
        if (config.train().gradientCheckpointing()) {
            LOG.info("train: note: gradient_checkpointing has no DL4J equivalent and has no effect.");
        }
        if (config.train().wandbEnabled()) {
            LOG.info("train: note: wandb_enabled: the run reaches Weights & Biases through its TensorBoard event files"
                    + " (output_dir/tensorboard; `wandb sync --sync-tensorboard`, printed at the end); the JVM makes no network call.");
        }
    }
}
