package dev.avatartrain.jobs;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import dev.avatartrain.config.AppConfig;
import dev.avatartrain.data.ClipSplit;
import dev.avatartrain.data.adapter.AdapterManifest;
import dev.avatartrain.models.adapter.AudioProjModel;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.tensors.Safetensors;
import dev.avatartrain.tensors.TensorFiles;
import dev.avatartrain.train.Checkpoints;
import dev.avatartrain.train.RunLock;
import dev.avatartrain.train.Metrics;
import dev.avatartrain.train.adapter.AdapterOptions;
import dev.avatartrain.train.adapter.AdapterTask;
import dev.avatartrain.train.adapter.AdapterValidation;
import dev.avatartrain.train.spark.SparkTrainer;
import dev.avatartrain.train.spark.Workers;

/**
 * {@code avatar-train train-adapter}: InfiniteTalk's audio adapter from a manifest, on the same engine as the UNet
 * ({@link SparkTrainer}): items split into training and validation, training items dealt to the workers, epochs turned
 * into optimizer steps, checkpoints and resume as {@code train}; at the end the weights are exported as
 * {@code output_dir/adapter.safetensors} with PyTorch names (and the {@code audio_proj.} prefix when the initial
 * weights had it).
 */
public final class TrainAdapterJob {
    private static final Logger LOG = LoggerFactory.getLogger(TrainAdapterJob.class);
    public static final String EXPORT = "adapter.safetensors";

    private TrainAdapterJob() {}

    /** What an adapter run writes into {@code output_dir} besides checkpoints (moved aside with them by {@code --overwrite}). */
    static final List<String> RUN_OUTPUTS = List.of(Metrics.JSONL, Metrics.CSV, Metrics.PLOT, EXPORT, AppConfig.EFFECTIVE_CONFIG_FILE);

    public static SparkTrainer.Result run(SparkSession spark, AdapterOptions o, Path engineConfigDir) throws IOException {
        return run(spark, o, engineConfigDir == null ? null : engineConfigDir.toString(), false);
    }

    /** As {@link #run(SparkSession, AdapterOptions, String, boolean)} with a local engine configuration folder. */
    public static SparkTrainer.Result run(SparkSession spark, AdapterOptions o, Path engineConfigDir, boolean overwrite) throws IOException {
        return run(spark, o, engineConfigDir == null ? null : engineConfigDir.toString(), overwrite);
    }

    /**
     * Checks every input first (options, the manifest and every item's tensor headers, the engine configuration, the
     * checkpoint to resume), then claims {@code output_dir} ({@link Checkpoints#claim}; {@code overwrite} moves another
     * run's checkpoints, metrics and export aside), and only then writes anything. {@code engineConfigDir}: local, bundled
     * in the jar or a storage URL (null: configuration/global).
     */
    public static SparkTrainer.Result run(SparkSession spark, AdapterOptions o, String engineConfigDir, boolean overwrite) throws IOException {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        dev.avatartrain.gpu.GpuCheck.forDriver();
        Configuration hadoop = sc.hadoopConfiguration();
        AdapterManifest manifest = AdapterManifest.read(o.manifest(), hadoop);
        if (!manifest.ignoredKeys().isEmpty()) LOG.info("train-adapter: ignored manifest keys " + manifest.ignoredKeys());
        checkItems(sc, manifest, o);
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < manifest.size(); i++) ids.add(String.valueOf(i));
        ClipSplit split = ClipSplit.of(ids, o.validationFraction(), o.seed());
        int workers = Workers.resolve(sc, o.numWorkers(), split.train().size(), "num_workers");
        List<List<String>> shards = new ArrayList<>();
        for (int w = 0; w < workers; w++) shards.add(new ArrayList<>());
        for (int i = 0; i < split.train().size(); i++) shards.get(i % workers).add(split.train().get(i));

        int perStep = o.batchSize() * o.gradientAccumulationSteps() * workers;
        int stepsPerEpoch = (split.train().size() + perStep - 1) / perStep;
        int maxSteps = Math.max(1, o.epochs() * stepsPerEpoch);
        int validationSteps = o.validationEvery() > 0 ? o.validationEvery() : Math.max(1, maxSteps / 5);
        AppConfig engine = AppConfig.loadFrom(engineConfigDir, o.engineOverrides(maxSteps, validationSteps));
        LOG.info(String.format("train-adapter: %d items (%d training, %d validation) from %s; %d workers; %d epochs = %d optimizer steps",
                manifest.size(), split.train().size(), split.validation().size(), manifest.source(), workers, o.epochs(), maxSteps));
        LOG.info("train-adapter: precision: parameters, gradients, AdamW moments and activations in float32 on the CPU"
                + (o.mixedPrecision() ? " (mixed_precision: the exported weights are float16)" : "") + ".");

        Map<String, String> s3 = new LinkedHashMap<>();
        Configuration defaults = new Configuration();
        for (Map.Entry<String, String> e : hadoop) { // the s3a settings this job was given (credentials, endpoint), not Hadoop's defaults
            String k = e.getKey();
            if (k.startsWith("fs.s3a.") && !java.util.Objects.equals(hadoop.get(k), defaults.get(k))) s3.put(k, hadoop.get(k));
        }
        AdapterTask task = new AdapterTask(manifest, o.model(), o.seed(), o.batchSize(), o.initWeights(), s3);
        AdapterValidation.Plan validation = split.validation().isEmpty() ? null : new AdapterValidation.Plan(task, split.validation());
        try (Storage out = Storage.forUrl(o.outputDir(), hadoop); RunLock lock = RunLock.acquire(out, "train-adapter")) {
            Checkpoints.Run run = Checkpoints.claim(out, engine.model().resumeFromCheckpoint(), overwrite, RUN_OUTPUTS,
                    Checkpoints.Hints.ADAPTER, hadoop);
            byte[] effective = ("# train-adapter options\n" + new org.yaml.snakeyaml.Yaml().dumpAsMap(new LinkedHashMap<>(o.values()))
                    + "# Engine configuration (sha256 " + engine.hash() + ")\n" + engine.toYaml()).getBytes(java.nio.charset.StandardCharsets.UTF_8);
            out.write(AppConfig.EFFECTIVE_CONFIG_FILE, w -> w.write(effective));
            SparkTrainer.Result r = new SparkTrainer(sc, engine, task, shards, out, run).run(validation, 0);
            String prefix = "";
            if (!o.initWeights().isBlank()) prefix = AudioProjModel.prefixOf(TensorFiles.read(
                    dev.avatartrain.hub.HubFiles.resolveWeightsFile(o.initWeights(), AudioProjModel.WEIGHTS_FILES, hadoop),
                    null));
            export(r.lastCheckpoint(), out, prefix, o.mixedPrecision() ? DataType.HALF : DataType.FLOAT, hadoop);
            if (r.validations().size() >= 2) {
                Map<String, Object> first = r.validations().get(0), last = r.validations().get(r.validations().size() - 1);
                LOG.info(String.format("train-adapter: validation loss %.5f (step %s) → %.5f (step %s)", (Double) first.get("val_loss"),
                        first.get("step"), (Double) last.get("val_loss"), last.get("step")));
            }
            return r;
        }
    }

    /** Manifests larger than this have their items' headers checked by Spark tasks rather than on the driver alone. */
    static final int PARALLEL_CHECK_ITEMS = 64;

    /**
     * Every manifest item's tensor headers (shape, dtype) against the adapter's sizes, before training: all bad
     * items are listed in one error. Large manifests are checked by Spark tasks in parallel; only headers are read.
     */
    static void checkItems(JavaSparkContext sc, AdapterManifest manifest, AdapterOptions o) {
        dev.avatartrain.models.adapter.AudioProjConfig model = o.model();
        List<String> problems;
        if (manifest.size() <= PARALLEL_CHECK_ITEMS) {
            problems = new ArrayList<>();
            for (AdapterManifest.Item item : manifest.items()) {
                String p = AdapterManifest.checkHeaders(manifest.source(), item, model, sc.hadoopConfiguration());
                if (p != null) problems.add(p);
            }
        } else {
            ItemCheck check = new ItemCheck(manifest.source(), model, new org.apache.spark.util.SerializableConfiguration(sc.hadoopConfiguration()));
            int slices = Math.max(1, Math.min(sc.defaultParallelism() * 4, manifest.size() / 16));
            problems = sc.parallelize(manifest.items(), slices).map(check::check).filter(java.util.Objects::nonNull).collect();
        }
        if (problems.isEmpty()) return;
        throw new dev.avatartrain.errors.BadInputException(problems.size() + " of " + manifest.size() + " items of manifest " + manifest.source()
                + " do not fit the adapter (nothing was written):\n  " + String.join("\n  ", problems.stream().limit(50).toList())
                + (problems.size() > 50 ? "\n  … and " + (problems.size() - 50) + " more" : ""));
    }

    /** The header check as a Spark task: what it needs, serialisable. */
    record ItemCheck(String manifest, dev.avatartrain.models.adapter.AudioProjConfig model,
                     org.apache.spark.util.SerializableConfiguration hadoop) implements java.io.Serializable {
        String check(AdapterManifest.Item item) {
            return AdapterManifest.checkHeaders(manifest, item, model, hadoop.value());
        }
    }

    /** The checkpoint's weights as {@value #EXPORT} under {@code output_dir}, with {@code prefix} before every name. */
    static void export(String checkpoint, Storage out, String prefix, DataType dtype, Configuration hadoop) throws IOException {
        Map<String, INDArray> weights = new LinkedHashMap<>();
        try (Storage ck = Storage.forUrl(checkpoint, hadoop); InputStream in = ck.open(Checkpoints.MODEL)) {
            Safetensors.read(in, checkpoint + "/" + Checkpoints.MODEL, dtype).tensors().forEach((n, a) -> weights.put(prefix + n, a));
        }
        out.write(EXPORT, o -> Safetensors.write(o, weights, Map.of("format", "pt")));
        LOG.info("train-adapter: weights → " + out.locations().get(0).child(EXPORT) + " (" + weights.size() + " tensors, "
                + (prefix.isEmpty() ? "no prefix" : "prefix " + prefix) + ", " + dtype + "; InfiniteTalk loads them with strict=True)");
    }
}
