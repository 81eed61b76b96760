package dev.avatartrain.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.avatartrain.jobs.SynthJob;
import dev.avatartrain.synth.SyntheticClips;
import dev.avatartrain.tensors.Safetensors;
import dev.avatartrain.train.Checkpoints;

/**
 * The cluster jar on a real Spark standalone cluster (a master and two one-core workers, each its own JVM on
 * loopback): {@code make-metadata}, {@code encode} and {@code train} submitted through SparkSubmit, training on both
 * workers (one barrier task each) a UNet whose state (parameters and both AdamW moments) is larger than 2 GiB — more
 * than any one Java array, Kryo buffer or task result could carry — with a driver of 1 GiB heap (it holds no model
 * state). The job completes, every checkpoint on disk is complete (the workers' pieces and the driver's state
 * file), and a second run resumes from the latest one.
 */
class StandaloneClusterIT {
    static final int STEPS = 6;
    static final int MORE_STEPS = 8;
    /**
     * Two levels, the second 1280 channels wide: ≈ 2.2·10⁸ parameters (state ≈ 2.6 GB) that compute fast on 4×4
     * latents (32 px frames).
     */
    static final String WIDE_UNET = """
            {"_class_name": "UNet2DConditionModel", "act_fn": "silu", "attention_head_dim": 8, "block_out_channels": [64, 1280],
             "center_input_sample": false, "cross_attention_dim": 32, "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
             "downsample_padding": 1, "flip_sin_to_cos": true, "freq_shift": 0, "in_channels": 8, "layers_per_block": 1,
             "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 8, "out_channels": 4, "sample_size": 8,
             "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"]}
            """;
    static final long STATE_BYTES_AT_LEAST = 1L << 31;
    /** A checkpoint of two workers: rank 0's model, each rank's optimizer piece. */
    static final List<String> PIECES = List.of(Checkpoints.MODEL, "optimizer-00000-of-00002.safetensors",
            "optimizer-00001-of-00002.safetensors");
    static final long DRIVER_LIMIT_MINUTES = 10; // a hang guard only
    static final Pattern STEP_LINE = Pattern.compile("(?m)(?:^|: )step (\\d+)/(\\d+)  loss "); // plain, or in a log4j line


    @Test
    void trainsAStateOver2GiBOnTwoWorkersAndResumes() throws Exception {
        Path project = StandaloneCluster.projectDir().toAbsolutePath();
        Path jar = Path.of(System.getProperty("avatartrain.cluster.jar"));
        assertTrue(Files.isRegularFile(jar), "built by mvn package: " + jar);
        Path dir = Files.createTempDirectory(Files.createDirectories(project.resolve("target")), "cluster-it-");
        Path data = dir.resolve("data");
        Path out = dir.resolve("out");
        // 4 clips × 8 frames of 32 px, audio [2, 32]: 3 training clips in 2 shards, 1 validation clip. Two micro-batches
        // per step, so a task runs long enough to be killed in the middle of it.
        SynthJob.run(data, new SyntheticClips.Spec(4, 8, 32, 2, 32, 5, "aligned-frames", "audio"));
        Path unetConfig = Files.writeString(dir.resolve("wide-unet.json"), WIDE_UNET);

        List<String> config = new ArrayList<>(List.of("--config-dir", project.resolve("configuration/demo").toString()));
        for (String s : List.of("data.local_data_base_url=" + data, "data.s3_data_base_url=", "data.metadata_url=" + dir.resolve("metadata.json"),
                "data.output_dir=" + out, "data.IMAGE_SIZE=32", "model.unet_config_file=" + unetConfig,
                "model.vae_pretrained_model_name_or_path=random", "train.max_train_steps=" + STEPS, "train.averaging_frequency=1",
                "train.checkpointing_steps=2", "train.checkpoints_total_limit=2", "train.validation_steps=100", "train.num_workers=2",
                "train.train_batch_size=2", "train.gradient_accumulation_steps=2", "train.validation_fraction=0.25")) {
            config.addAll(List.of("--set", s));
        }

        try (StandaloneCluster cluster = new StandaloneCluster(dir.resolve("cluster"), 2, 1, "3g")) {
            assertEquals(2, cluster.aliveWorkers());

            run(cluster, jar, "make-metadata", conf(1.0), concat(List.of("make-metadata", "--input", data.toString(), "--output",
                    dir.resolve("metadata.json").toString()), config));
            assertTrue(Files.size(dir.resolve("metadata.json")) > 0);

            String encode = run(cluster, jar, "encode", conf(1.0), concat(List.of("encode"), config));
            assertTrue(encode.contains("encode: 4 clips encoded"), encode);
            assertEquals(2, count(cluster.sparkLog("encode"), "Executor added: "), "two executors");

            // train on the two executors, one barrier task each. (Killing a worker mid-run is not tried here
            // yet: a lost executor while the segment's one-partition shuffle stage runs leaves the retried barrier
            // stage waiting for slots — see docs/engine.md, "Failures"; SparkTrainerTest covers a failed task's retry.)
            String output = run(cluster, jar, "train", conf(1.0), concat(List.of("train"), config));
            String log = cluster.sparkLog("train");
            assertEquals(2, count(log, "Executor added: "), "two executors:\n" + tail(log));
            assertTrue(output.contains("step " + STEPS + "/" + STEPS + " "), output);
            assertTrue(output.contains("train: done at step " + STEPS), output);

            Map<Long, Path> checkpoints = completeCheckpoints(out);
            assertEquals(List.of(4L, 6L), List.copyOf(checkpoints.keySet()), "checkpoints_total_limit 2 keeps the newest two");
            long stateBytes = 0;
            for (String f : PIECES) stateBytes += Files.size(checkpoints.get(6L).resolve(f));
            assertTrue(stateBytes > STATE_BYTES_AT_LEAST, "a state larger than 2 GiB: " + stateBytes + " bytes");

            // a second run resumes from the latest checkpoint: continues from step 6 to 8
            List<String> resume = concat(List.of("train"), config);
            resume.addAll(List.of("--set", "model.resume_from_checkpoint=latest", "--set", "train.max_train_steps=" + MORE_STEPS));
            String resumed = run(cluster, jar, "train-resumed", conf(0.5), resume);
            assertTrue(Pattern.compile("train: resumed from (file://)?" + Pattern.quote(out.resolve("checkpoints/checkpoint-" + STEPS).toString())
                    + " at step " + STEPS + " ").matcher(resumed).find(), resumed);
            Matcher first = STEP_LINE.matcher(resumed);
            assertTrue(first.find(), resumed);
            assertEquals(STEPS + 1, Integer.parseInt(first.group(1)), "the first step after resuming");
            assertEquals(MORE_STEPS, lastStep(resumed), resumed);
            assertEquals(List.of(6L, 8L), List.copyOf(completeCheckpoints(out).keySet()));
        } finally {
            // the executors' copies of the 150 MB cluster jar; logs and outputs stay for inspection
            try (Stream<Path> files = Files.walk(dir.resolve("cluster"))) {
                files.filter(p -> p.getFileName().toString().endsWith(".jar") && Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS))
                        .forEach(p -> p.toFile().delete());
            }
        }
    }

    /**
     * Every checkpoint folder on disk, by step: each holds exactly the model, optimizer state and training state, all
     * readable, and the training state names the folder's step.
     */
    static Map<Long, Path> completeCheckpoints(Path out) throws IOException {
        Map<Long, Path> found = new TreeMap<>();
        try (Stream<Path> dirs = Files.list(out.resolve(Checkpoints.DIR))) {
            for (Path d : dirs.toList()) {
                String name = d.getFileName().toString();
                assertTrue(name.matches("checkpoint-\\d+") && Files.isDirectory(d), "only checkpoint folders: " + d);
                long step = Long.parseLong(name.substring("checkpoint-".length()));
                List<String> files;
                try (Stream<Path> f = Files.list(d)) {
                    files = f.map(p -> p.getFileName().toString()).filter(n -> !n.startsWith(".") || !n.endsWith(".crc")).sorted().toList();
                }
                List<String> expected = new ArrayList<>(PIECES);
                expected.add(Checkpoints.STATE);
                assertEquals(expected, files, d.toString());
                JsonNode state = new ObjectMapper().readTree(d.resolve(Checkpoints.STATE).toFile());
                assertEquals(step, state.get("step").asLong(), d + "/" + Checkpoints.STATE);
                // the headers are checked against the file sizes (every byte range present); the weights are read whole
                Map<String, INDArray> model = Safetensors.read(d.resolve(Checkpoints.MODEL)).tensors();
                assertTrue(!model.isEmpty(), d + "/" + Checkpoints.MODEL);
                for (String piece : PIECES.subList(1, PIECES.size())) {
                    var optimizer = Safetensors.describe(d.resolve(piece));
                    assertEquals(java.util.Set.of("exp_avg", "exp_avg_sq"), optimizer.keySet(), d + "/" + piece);
                }
                try (var in = dev.avatartrain.storage.Storage.forUrl(out.toString(), null)) {
                    assertEquals(null, dev.avatartrain.train.CheckpointPieces.verify(in, Checkpoints.DIR + "/" + name, 2), d.toString());
                }
                for (INDArray a : model.values()) assertTrue(Double.isFinite(a.sumNumber().doubleValue()), d + ": finite weights");
                model.clear();
                found.put(step, d);
            }
        }
        return found;
    }

    /** Submits, waits for the driver, asserts exit 0 and returns its output. */
    static String run(StandaloneCluster cluster, Path jar, String name, Map<String, String> conf, List<String> args) throws Exception {
        Process p = cluster.submit(name, jar, driverJvm(), executorJvm(), conf, args);
        return finish(cluster, p, name);
    }

    /** Waits for the driver, asserts exit 0 and returns its output (stdout). */
    static String finish(StandaloneCluster cluster, Process p, String name) throws Exception {
        if (!p.waitFor(DRIVER_LIMIT_MINUTES, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            fail(name + " did not finish:\n" + both(cluster, name));
        }
        assertEquals(0, p.exitValue(), name + " failed:\n" + both(cluster, name));
        return cluster.output(name);
    }

    static String both(StandaloneCluster cluster, String name) throws IOException {
        return cluster.output(name) + "\n--- Spark log (" + cluster.logs().resolve(name + ".err") + "):\n" + tail(cluster.sparkLog(name));
    }

    static int lastStep(String output) {
        int last = -1;
        Matcher m = STEP_LINE.matcher(output);
        while (m.find()) last = Integer.parseInt(m.group(1));
        return last;
    }



    /**
     * The driver runs in the SparkSubmit JVM (client mode): 1 GiB of heap for a 2.6 GB state, since it holds no model
     * state and builds no network (docs/engine.md, "Memory").
     */
    static List<String> driverJvm() {
        return List.of("-Xmx1g", "-Dorg.bytedeco.javacpp.maxbytes=512m");
    }

    /** Executors: heap from spark.executor.memory; ND4J's off-heap limits here (Spark forbids -Xmx in these options). */
    static List<String> executorJvm() {
        return List.of("-Dorg.bytedeco.javacpp.maxbytes=6g", "-Dorg.bytedeco.javacpp.maxphysicalbytes=8g");
    }

    /**
     * One-core executors of 2 GB heap, one per worker; the job starts once {@code registeredRatio} of the requested
     * cores have executors (1.0: both; the resumed run has only the surviving worker).
     */
    static Map<String, String> conf(double registeredRatio) {
        Map<String, String> c = StandaloneCluster.oneCoreExecutors(registeredRatio);
        c.put("spark.executor.memory", "2800m"); // the worker's 3 GB less room for the JVM: the moments' shard lives on the heap
        c.put("spark.task.maxFailures", "4");
        return c;
    }

    static List<String> concat(List<String> a, List<String> b) {
        List<String> r = new ArrayList<>(a);
        r.addAll(b);
        return r;
    }

    static int count(Pattern p, String s) {
        int n = 0;
        for (Matcher m = p.matcher(s); m.find(); ) n++;
        return n;
    }

    static int count(String s, String what) {
        int n = 0;
        for (int i = s.indexOf(what); i >= 0; i = s.indexOf(what, i + 1)) n++;
        return n;
    }

    static String tail(String log) {
        return log.length() <= 12000 ? log : "…" + log.substring(log.length() - 12000);
    }
}
