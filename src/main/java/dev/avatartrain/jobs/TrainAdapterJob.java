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
import dev.avatartrain.train.Trainer;
import dev.avatartrain.train.adapter.AdapterOptions;
import dev.avatartrain.train.adapter.AdapterTask;
import dev.avatartrain.train.adapter.AdapterValidation;

/**
 * {@code avatar-train train-adapter}: InfiniteTalk's audio adapter from a manifest, on the same engine as the UNet
 * ({@link Trainer}): items split into training and validation, training items dealt to the workers, epochs turned
 * into optimizer steps, checkpoints and resume as {@code train}; at the end the weights are exported as
 * {@code output_dir/adapter.safetensors} with PyTorch names (and the {@code audio_proj.} prefix when the initial
 * weights had it).
 */
public final class TrainAdapterJob {
    private static final Logger LOG = LoggerFactory.getLogger(TrainAdapterJob.class);
    public static final String EXPORT = "adapter.safetensors";

    private TrainAdapterJob() {}

    public static Trainer.Result run(SparkSession spark, AdapterOptions o, Path engineConfigDir) throws IOException {
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Configuration hadoop = sc.hadoopConfiguration();
        AdapterManifest manifest = AdapterManifest.read(o.string("manifest"), hadoop);
        if (!manifest.ignoredKeys().isEmpty()) LOG.info("train-adapter: ignored manifest keys " + manifest.ignoredKeys());
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < manifest.size(); i++) ids.add(String.valueOf(i));
        ClipSplit split = ClipSplit.of(ids, o.real("validation_fraction"), o.integer("seed"));
        int workers = Math.max(1, Math.min(split.train().size(), o.integer("num_workers") > 0 ? o.integer("num_workers") : sc.defaultParallelism()));
        List<List<String>> shards = new ArrayList<>();
        for (int w = 0; w < workers; w++) shards.add(new ArrayList<>());
        for (int i = 0; i < split.train().size(); i++) shards.get(i % workers).add(split.train().get(i));

        int perStep = o.integer("batch_size") * o.integer("gradient_accumulation_steps") * workers;
        int stepsPerEpoch = (split.train().size() + perStep - 1) / perStep;
        int maxSteps = Math.max(1, o.integer("epochs") * stepsPerEpoch);
        int validationSteps = o.integer("validation_every") > 0 ? o.integer("validation_every") : Math.max(1, maxSteps / 5);
        AppConfig engine = AppConfig.load(engineConfigDir, o.engineOverrides(maxSteps, validationSteps));
        LOG.info(String.format("train-adapter: %d items (%d training, %d validation) from %s; %d workers; %d epochs = %d optimizer steps",
                manifest.size(), split.train().size(), split.validation().size(), manifest.source(), workers, o.integer("epochs"), maxSteps));

        Map<String, String> s3 = new LinkedHashMap<>();
        Configuration defaults = new Configuration();
        for (Map.Entry<String, String> e : hadoop) { // the s3a settings this job was given (credentials, endpoint), not Hadoop's defaults
            String k = e.getKey();
            if (k.startsWith("fs.s3a.") && !java.util.Objects.equals(hadoop.get(k), defaults.get(k))) s3.put(k, hadoop.get(k));
        }
        AdapterTask task = new AdapterTask(manifest, o.model(), o.integer("seed"), o.integer("batch_size"), o.string("init_weights"), s3);
        AdapterValidation validation = split.validation().isEmpty() ? null : new AdapterValidation(task.load(split.validation()), task);
        try (Storage out = Storage.forUrl(o.string("output_dir"), hadoop)) {
            Trainer.Result r = new Trainer(sc, engine, task, shards, out).run(validation, 0);
            String prefix = "";
            if (!o.string("init_weights").isBlank()) prefix = AudioProjModel.prefixOf(TensorFiles.read(Path.of(o.string("init_weights")), null));
            export(r.lastCheckpoint(), out, prefix, o.flag("mixed_precision") ? DataType.HALF : DataType.FLOAT, hadoop);
            if (r.validations().size() >= 2) {
                Map<String, Object> first = r.validations().get(0), last = r.validations().get(r.validations().size() - 1);
                LOG.info(String.format("train-adapter: validation loss %.5f (step %s) → %.5f (step %s)", (Double) first.get("val_loss"),
                        first.get("step"), (Double) last.get("val_loss"), last.get("step")));
            }
            return r;
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
