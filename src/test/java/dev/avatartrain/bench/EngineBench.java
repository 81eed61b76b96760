package dev.avatartrain.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

import com.fasterxml.jackson.databind.ObjectMapper;

import dev.avatartrain.config.AppConfig;
import dev.avatartrain.data.adapter.AdapterManifest;
import dev.avatartrain.models.adapter.AudioProjConfig;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.synth.SyntheticAdapterData;
import dev.avatartrain.train.Metrics;
import dev.avatartrain.train.adapter.AdapterOptions;
import dev.avatartrain.train.adapter.AdapterTask;
import dev.avatartrain.train.spark.SparkTrainer;

/**
 * The engine at real sizes ({@code bench/engine.sh}): the audio adapter of {@code configuration/adapter/train_adapter.yaml}
 * (74 M parameters; {@code intermediate_dim=1536}: 224 M) on {@code local[P]} with P workers, synthetic items. Trains
 * {@code steps} optimizer steps (one segment) and prints, per step after the first, the wall time, the compute time
 * and the exposed communication (1 − compute/wall) from metrics.jsonl, the bytes each worker sends per step (a
 * reduce-scatter and an all-gather of the flat buffer: 2(P−1)/P × 4 bytes per parameter) and the samples per second.
 * Args: {@code intermediate_dim workers accumulation steps}.
 */
public final class EngineBench {
    public static void main(String[] args) throws Exception {
        int intermediate = args.length > 0 ? Integer.parseInt(args[0]) : 512;
        int workers = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        int accumulation = args.length > 2 ? Integer.parseInt(args[2]) : 1;
        int steps = args.length > 3 ? Integer.parseInt(args[3]) : 6;
        Path dir = Files.createTempDirectory("engine-bench");
        AdapterOptions o = AdapterOptions.load(null, List.of(), Map.of("manifest", "synthetic", "intermediate_dim", intermediate));
        AudioProjConfig cfg = o.model();
        Path manifest = SyntheticAdapterData.write(dir.resolve("data"), cfg, 4 * workers, 3);
        AdapterTask task = new AdapterTask(AdapterManifest.read(manifest.toString(), null), cfg, 42, o.batchSize(), "", Map.of());
        List<List<String>> shards = new ArrayList<>();
        for (int p = 0; p < workers; p++) shards.add(List.of(String.valueOf(2 * p), String.valueOf(2 * p + 1)));
        long parameters = 0;
        for (var a : task.buildNetwork().parameters().values()) parameters += a.length();

        SparkSession spark = SparkSession.builder().master("local[" + workers + "]").appName("EngineBench")
                .config("spark.ui.enabled", "false").getOrCreate();
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Path out = dir.resolve("out");
        AppConfig config = AppConfig.load(dev.avatartrain.jobs.DemoJob.demoConfigDir(), List.of("data.output_dir=" + out,
                "train.max_train_steps=" + steps, "train.checkpointing_steps=" + steps, "train.validation_steps=" + (steps + 1),
                "train.gradient_accumulation_steps=" + accumulation, "train.train_batch_size=" + o.batchSize(),
                "optimizer.lr_scheduler=constant", "optimizer.lr_warmup_steps=0", "train.dashboard_port=0"));
        new SparkTrainer(sc, config, task, shards, Storage.forUrl(out.toString(), null), null).run(null, 0);
        spark.stop();

        double bytes = 2.0 * (workers - 1) / workers * 4 * parameters;
        System.out.printf("engine: adapter intermediate_dim %d: %,d parameters, %d worker(s) on local[%d], batch %d, accumulation %d;"
                + " %.0f MB sent per worker per step%n", intermediate, parameters, workers, workers, o.batchSize(), accumulation, bytes / 1e6);
        System.out.println("| step | wall s | compute s | exposed communication | samples/s |");
        System.out.println("|---|---|---|---|---|");
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(out.resolve(Metrics.JSONL))) {
            Map<?, ?> r = json.readValue(line, Map.class);
            if (!r.containsKey("round_s")) continue;
            double wall = ((Number) r.get("round_s")).doubleValue(), compute = ((Number) r.get("compute_s")).doubleValue();
            System.out.printf("| %s | %.3f | %.3f | %.0f %% | %.2f |%n", r.get("step"), wall, compute, 100 * (1 - compute / wall),
                    ((Number) r.get("samples_per_s")).doubleValue());
        }
        System.exit(0); // Spark's barrier tasks leave a non-daemon timer thread in the JVM that ran them (local mode)
    }
}
