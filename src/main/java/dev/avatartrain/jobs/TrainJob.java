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
import dev.avatartrain.config.ConfigFiles;
import dev.avatartrain.config.TrainConfig;
import dev.avatartrain.data.AudioPositionalEncoding;
import dev.avatartrain.data.ClipLatents;
import dev.avatartrain.data.ClipSplit;
import dev.avatartrain.encode.LatentStore;
import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.models.taesd.TaesdSource;
import dev.avatartrain.models.unet.UNetConfig;
import dev.avatartrain.models.unet.UNetWeights;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.train.Checkpoints;
import dev.avatartrain.gpu.GpuCheck;
import dev.avatartrain.train.Metrics;
import dev.avatartrain.train.spark.SparkTrainer;
import dev.avatartrain.train.spark.Workers;
import dev.avatartrain.train.RunLock;
import dev.avatartrain.train.unet.UNetTask;
import dev.avatartrain.train.unet.UNetValidation;

/**
 * {@code avatar-train train}: the lip-sync UNet on the latent cache, with parameter averaging on Spark
 * ({@link SparkTrainer}). Clips are split into training and validation by clip; training clips are dealt to
 * {@code num_workers} shards (0: one per executor) balanced by frame count.
 */
public final class TrainJob {
    private static final Logger LOG = LoggerFactory.getLogger(TrainJob.class);
    private TrainJob() {}

    public static SparkTrainer.Result run(SparkSession spark, AppConfig config, long untilStep) throws IOException {
        return run(spark, config, untilStep, false);
    }

    /**
     * Checks every input first (configuration, latent index, every clip's shapes, the checkpoint to resume), then
     * claims {@code output_dir} for this run ({@link Checkpoints#claim}; {@code overwrite} moves another run's
     * checkpoints and outputs aside), and only then writes anything.
     */
    public static SparkTrainer.Result run(SparkSession spark, AppConfig config, long untilStep, boolean overwrite) throws IOException {
        TrainConfig t = config.train();
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        notes(config);
        GpuCheck.forDriver();
        Storage out = Storage.forUrl(config.data().outputDir(), sc.hadoopConfiguration());
        Pretrained start = pretrained(config, sc); // the UNet's config and weights to start from, checked before any data
        TaesdSource vae = TaesdSource.resolve(config.model().vaePretrainedModelNameOrPath(), EncodeJob.vaeCache(), sc.hadoopConfiguration());
        String folder = LatentStore.folder(vae.key(), config.data().imageSize());
        LatentStore.Index index = LatentStore.readIndex(out, folder);
        Map<String, Integer> frames = new HashMap<>();
        index.clips().forEach(e -> frames.put(e.clip(), e.frames()));
        ClipSplit split = ClipSplit.of(LatentStore.clipNames(index), t.validationFraction(), t.seed());
        if (split.train().isEmpty()) throw new BadInputException(folder + "/index.json: no clip to train on");

        String unetJson = start.configJson();
        String unetFile = start.configSource();
        UNetConfig unet = UNetConfig.parse(unetJson, unetFile);
        ClipLatents probe = LatentStore.readClip(out, folder, split.train().get(0));
        checkAudioShapes(unet, index, out, folder, unetFile);
        checkShapes(unet, probe, t, unetFile);
        checkResumeEncoding(config, out);

        int workers = Workers.resolve(sc, t.numWorkers(), split.train().size(), "train.num_workers");
        List<List<String>> shards = shards(split.train(), frames, workers);
        LOG.info("train: " + split.train().size() + " training clips in " + shards.size() + " shards, "
                + split.validation().size() + " validation clips; latents " + out.locations().get(0).child(folder));
        UNetTask task = new UNetTask(unetJson, unetFile, t.seed(), t.trainBatchSize(), t.audioLengthLeft(),
                t.audioLengthRight(), t.loss(), out, folder, t.audioPositionalEncoding(), t.referenceMinDistance(),
                start.weights() == null ? null : start.weights().weights().toString(), t.gradientCheckpointing());
        LOG.info("train: references at least " + t.referenceMinDistance() + " frames from the target where the clip allows;"
                + " audio positional encoding " + t.audioPositionalEncoding());
        UNetValidation.Plan validation = null;
        if (!split.validation().isEmpty()) {
            LOG.info("train: validation decodes with " + vae.describe()
                    + (vae.isRandom() ? " (grids show latent channels 0-2: random weights decode to no picture)" : ""));
            validation = new UNetValidation.Plan(split.validation(), out, folder, config.model().vaePretrainedModelNameOrPath(),
                    EncodeJob.vaeCache().toString(), new org.apache.spark.util.SerializableConfiguration(sc.hadoopConfiguration()),
                    t.audioLengthLeft(), t.audioLengthRight(), t.seed(), t.loss(), t.referenceMinDistance(), t.audioPositionalEncoding());
        } else {
            LOG.info("train: only one clip, so no validation (validation is on held-out clips, never frames)");
        }
        try (RunLock lock = RunLock.acquire(out, "train")) { // held from before the first write to the end
            Checkpoints.Run run = Checkpoints.claim(out, config.model().resumeFromCheckpoint(), overwrite, RUN_OUTPUTS, Checkpoints.Hints.TRAIN,
                    sc.hadoopConfiguration());
            byte[] effective = ("# Effective configuration (sha256 " + config.hash() + ")\n" + config.toYaml()).getBytes(java.nio.charset.StandardCharsets.UTF_8);
            out.write(AppConfig.EFFECTIVE_CONFIG_FILE, o -> o.write(effective));
            SparkTrainer.Result r = new SparkTrainer(sc, config, task, shards, out, run).run(validation, untilStep);
            if (r.validations().size() >= 2) {
                Object first = r.validations().get(0).get("val_loss"), last = r.validations().get(r.validations().size() - 1).get("val_loss");
                LOG.info(String.format("train: validation loss %.5f at step %s → %.5f at step %s", (Double) first,
                        r.validations().get(0).get("step"), (Double) last, r.validations().get(r.validations().size() - 1).get("step")));
            }
            LOG.info("train: done at step " + r.step() + "; checkpoint " + r.lastCheckpoint()
                    + " (model.safetensors loads into diffusers' UNet2DConditionModel with strict=True)");
            return r;
        }
    }

    /** What a UNet run writes into {@code output_dir} besides checkpoints (moved aside with them by {@code --overwrite}). */
    static final List<String> RUN_OUTPUTS = List.of(Metrics.JSONL, Metrics.CSV, Metrics.PLOT, "validation", AppConfig.EFFECTIVE_CONFIG_FILE);

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

    /** The UNet's config (JSON and where it came from) and the released weights to start from (null: random). */
    record Pretrained(String configJson, String configSource, UNetWeights.Source weights) {}

    /**
     * {@code model.unet_pretrained_model_name_or_path} and {@code model.unet_config_file} together: a folder's config is used when
     * unet_config_file is unset, both given must agree, a bare file needs unet_config_file; a positional encoding the weights
     * record must be the configured one.
     */
    static Pretrained pretrained(AppConfig config, JavaSparkContext sc) throws IOException {
        String configured = config.model().unetConfigFile();
        // local, bundled in the jar or a storage URL: the driver may run in a cluster container
        ConfigFiles.Text text = configured == null || configured.isBlank() ? null : ConfigFiles.read(configured, "model.yaml: unet_config_file");
        String spec = config.model().unetPretrainedModelNameOrPath();
        if (spec == null || spec.isBlank()) {
            if (text == null) text = ConfigFiles.read("configuration/unet/config.json", "model.yaml: unet_config_file");
            return new Pretrained(text.text(), text.source(), null);
        }
        UNetWeights.Source src = UNetWeights.locate(spec, unetCache(), sc.hadoopConfiguration(),
                UNetWeights.hub(sc.hadoopConfiguration()));
        UNetConfig chosen = UNetWeights.chooseConfig(src, text == null ? null : UNetConfig.parse(text.text(), text.source()),
                text == null ? "null" : text.source());
        String pe = config.train().audioPositionalEncoding();
        if (src.positionalEncoding() != null && !src.positionalEncoding().equals(pe)) {
            throw new BadInputException("model.unet_pretrained_model_name_or_path: " + spec + " was trained with audio positional encoding '"
                    + src.positionalEncoding() + "' but train.audio_positional_encoding is '" + pe + "'; set train.audio_positional_encoding: "
                    + src.positionalEncoding() + " (the weights expect it)");
        }
        LOG.info("train: starting from " + src.layout() + " weights " + src.weights() + " (fresh optimizer, step 0"
                + (config.model().resumeFromCheckpoint() == null ? "" : "; resume_from_checkpoint wins when there is a checkpoint") + ")");
        boolean fromFolder = src.configJson() != null && text == null;
        return fromFolder ? new Pretrained(src.configJson(), src.configSource(), src) : new Pretrained(text.text(), text.source(), src);
    }

    /** A checkpoint to resume from must have been trained with the configured audio positional encoding. */
    static void checkResumeEncoding(AppConfig config, Storage out) throws IOException {
        String r = config.model().resumeFromCheckpoint();
        if (r == null || r.isBlank()) return;
        String location = r.equals("latest") ? new Checkpoints(out, Integer.MAX_VALUE).latest() : r;
        if (location == null) return;
        String recorded;
        try (Storage in = Storage.forUrl(location, out.hadoopConf())) {
            if (!in.exists(Checkpoints.STATE)) return; // the trainer reports the incomplete checkpoint
            var info = new com.fasterxml.jackson.databind.ObjectMapper().readTree(in.readAll(Checkpoints.STATE)).path("info");
            recorded = info.hasNonNull(UNetWeights.PE_KEY) ? info.get(UNetWeights.PE_KEY).asText() : "none";
        }
        String pe = config.train().audioPositionalEncoding();
        if (!recorded.equals(pe)) {
            throw new BadInputException("model.resume_from_checkpoint: " + location + " was trained with audio positional encoding \"" + recorded
                    + "\" but train.audio_positional_encoding is \"" + pe + "\"; resume with the same encoding");
        }
    }

    public static Path unetCache() {
        return Path.of(System.getProperty("java.io.tmpdir"), "avatar-train-unet");
    }

    private static void checkShapes(UNetConfig unet, ClipLatents clip, TrainConfig t, String unetFile) {
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

    /**
     * Every clip's per-frame audio shape (from the index; from the clip file's header for an index of format 1) must be
     * {@code [tokens, cross_attention_dim]} with one token count for all clips; all offending clips are listed at once.
     */
    static void checkAudioShapes(UNetConfig unet, LatentStore.Index index, Storage out, String folder, String unetFile) {
        Map<String, List<String>> byShape = new java.util.TreeMap<>();
        Map<String, long[]> shapes = new HashMap<>();
        for (LatentStore.IndexEntry e : index.clips()) {
            long[] a = e.audioShape() != null ? e.audioShape() : LatentStore.readAudioShape(out, folder, e.clip());
            shapes.put(java.util.Arrays.toString(a), a);
            byShape.computeIfAbsent(java.util.Arrays.toString(a), k -> new ArrayList<>()).add(e.clip());
        }
        List<String> bad = new ArrayList<>();
        byShape.forEach((shape, clips) -> {
            long[] a = shapes.get(shape);
            boolean fits = a.length == 2 && a[1] == unet.crossAttentionDim();
            if (!fits || byShape.size() > 1) {
                bad.add(shape + " in " + String.join(", ", clips.stream().limit(20).toList()) + (clips.size() > 20 ? ", … (" + clips.size() + " clips)" : ""));
            }
        });
        if (bad.isEmpty()) return;
        throw new BadInputException(folder + "/" + LatentStore.INDEX + ": the clips' audio features per frame are " + String.join("; ", bad)
                + ", but " + unetFile + " has cross_attention_dim " + unet.crossAttentionDim() + " and every clip needs the same shape"
                + " [tokens, " + unet.crossAttentionDim() + "]. Re-extract those clips' audio (and run encode again), or change"
                + " cross_attention_dim.");
    }

    private static void notes(AppConfig config) {
        String mp = config.train().mixedPrecision();
        LOG.info("train: precision: parameters, gradients, AdamW moments and every activation in float32 on the CPU"
                + (mp.equals("no") ? "" : " (mixed_precision \"" + mp + "\" has no effect there: no half-precision"
                + " kernels on the CPU; `export --dtype " + mp + "` writes half-precision weights)") + "; the frozen TAESD"
                + " in float32.");
        LOG.info("train: gradient_checkpointing " + (config.train().gradientCheckpointing()
                ? "on: each UNet ResNet and transformer block keeps only its inputs and is recomputed in the backward pass"
                : "off: every activation of a micro-batch is kept until the backward pass"));
    }
}
