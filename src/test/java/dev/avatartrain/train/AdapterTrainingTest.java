package dev.avatartrain.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import dev.avatartrain.train.spark.SparkTrainer;
import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.jobs.DemoJob;
import dev.avatartrain.jobs.TrainAdapterJob;
import dev.avatartrain.models.adapter.AudioProjModel;
import dev.avatartrain.synth.SyntheticAdapterData;
import dev.avatartrain.tensors.Safetensors;
import dev.avatartrain.tensors.TensorFiles;
import dev.avatartrain.train.adapter.AdapterOptions;

/** train-adapter end to end on local[2]: convergence toward the teacher, resume, fine-tuning from weights, export. */
class AdapterTrainingTest {
    static SparkSession spark;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("AdapterTrainingTest").config("spark.ui.enabled", "false").getOrCreate();
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    static AdapterOptions options(Path manifest, Path out, Object... kv) {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("manifest", manifest.toString());
        o.put("output_dir", out.toString());
        o.put("epochs", 4);
        o.put("checkpointing_steps", 4);
        o.put("validation_every", 4);
        List<String> set = new java.util.ArrayList<>(); // as --set KEY=VALUE gives them (values parsed as YAML)
        for (int i = 0; i < kv.length; i += 2) {
            set.add(kv[i] + "=" + kv[i + 1]);
            o.remove(kv[i]); // options would win over --set
        }
        return AdapterOptions.load(Path.of("configuration/demo/train_adapter.yaml"), set, o);
    }

    @Test
    void trainsTowardTheTeacherOnTwoPartitionsResumesAndExports(@TempDir Path dir) throws Exception {
        AdapterOptions base = options(dir.resolve("m.json"), dir.resolve("x"));
        Path manifest = SyntheticAdapterData.write(dir.resolve("data"), base.model(), 12, 3);

        SparkTrainer.Result full = TrainAdapterJob.run(spark, options(manifest, dir.resolve("a")), DemoJob.demoConfigDir());
        double first = (Double) full.validations().get(0).get("val_loss");
        double last = (Double) full.validations().get(full.validations().size() - 1).get("val_loss");
        assertTrue(last < 0.8 * first, "validation loss " + first + " -> " + last);
        Path exported = dir.resolve("a").resolve(TrainAdapterJob.EXPORT);
        Map<String, INDArray> w = Safetensors.read(exported).tensors();
        assertTrue(w.containsKey("proj1.weight") && w.containsKey("norm.weight"), w.keySet().toString());

        // the same run split in two: stop at the first checkpoint (by a shorter max via --set), then resume
        long steps = full.step();
        AdapterOptions half = options(manifest, dir.resolve("b"));
        SparkTrainer.Result r1 = TrainAdapterJob.run(spark, options(manifest, dir.resolve("b"), "epochs", 2), DemoJob.demoConfigDir());
        assertTrue(r1.step() < steps);
        SparkTrainer.Result r2 = TrainAdapterJob.run(spark, options(manifest, dir.resolve("b"), "resume_from_checkpoint", "latest"),
                DemoJob.demoConfigDir());
        assertEquals(steps, r2.step());
        assertTrue(half.outputDir().endsWith("b"));

        checkInPyTorch(base.model().toJson(), exported);
    }

    @Test
    void fineTunesFromReleasedWeightsAndKeepsTheirPrefix(@TempDir Path dir) throws Exception {
        AdapterOptions base = options(dir.resolve("m.json"), dir.resolve("x"));
        Path manifest = SyntheticAdapterData.write(dir.resolve("data"), base.model(), 6, 4);
        // "released" weights with InfiniteTalk's module prefix: the teacher itself
        Map<String, INDArray> teacher = TensorFiles.read(dir.resolve("data/teacher.safetensors"), DataType.FLOAT);
        Map<String, INDArray> prefixed = new LinkedHashMap<>();
        teacher.forEach((k, v) -> prefixed.put(AudioProjModel.INFINITETALK_PREFIX + k, v));
        Path init = dir.resolve("released.safetensors");
        Safetensors.write(init, prefixed, Map.of());

        SparkTrainer.Result r = TrainAdapterJob.run(spark, options(manifest, dir.resolve("ft"), "init_weights", init.toString(), "epochs", 1,
                "validation_fraction", 0.34), DemoJob.demoConfigDir());
        double startLoss = (Double) r.validations().get(0).get("val_loss");
        assertTrue(startLoss < 1e-6, "starting from the teacher, the loss starts at ~0: " + startLoss);
        Map<String, INDArray> out = Safetensors.read(dir.resolve("ft").resolve(TrainAdapterJob.EXPORT)).tensors();
        assertEquals(prefixed.keySet(), out.keySet());
    }

    @Test
    void optionErrorsNameTheKeyOrFile(@TempDir Path dir) throws Exception {
        assertTrue(assertThrows(BadInputException.class, () -> options(dir.resolve("m.json"), dir, "audio_window", 4))
                .getMessage().contains("odd"));
        String unknown = assertThrows(BadInputException.class, () -> options(dir.resolve("m.json"), dir, "epoch", 4))
                .getMessage();
        assertTrue(unknown.contains("unknown key 'epoch'") && unknown.contains("did you mean 'epochs'"), unknown);
        // typed on ConfigSchema's adapter section: the file and key named, overrides parsed to the key's type
        Path bad = dir.resolve("bad.yaml");
        Files.writeString(bad, "manifest: m.json\nlr: fast\nbatch_size: 0\n");
        String typed = assertThrows(BadInputException.class, () -> AdapterOptions.load(bad, List.of(), Map.of())).getMessage();
        assertTrue(typed.contains(bad.toString()) && typed.contains("key 'lr' must be a number")
                && typed.contains("key 'batch_size' is 0"), typed);
        AdapterOptions set = options(dir.resolve("m.json"), dir, "lr", "2e-4", "adapter.seed", "7");
        assertEquals(2e-4, set.lr());
        assertEquals(7, set.seed());
        assertEquals(0, options(dir.resolve("m.json"), dir, "dashboard_port", "0").dashboardPort());
        Path empty = dir.resolve("empty.json");
        Files.writeString(empty, "[]");
        BadInputException e = assertThrows(BadInputException.class,
                () -> TrainAdapterJob.run(spark, options(empty, dir.resolve("o")), DemoJob.demoConfigDir()));
        assertTrue(e.getMessage().contains(empty.getFileName().toString()), e.getMessage());
    }

    /**
     * Trained weights are the PyTorch AudioProj state dict of the config: the names and shapes of the model, whose
     * names and shapes AudioProjParityTest loads strictly from PyTorch's fixtures; where torch is here, the live check
     * loads them into PyTorch's AudioProj with strict=True.
     */
    static void checkInPyTorch(String configJson, Path weights) throws Exception {
        Map<String, INDArray> w = Safetensors.read(weights).tensors();
        String prefix = w.keySet().stream().allMatch(k -> k.startsWith("audio_proj.")) ? "audio_proj." : "";
        var model = dev.avatartrain.models.adapter.AudioProjModel.build(
                dev.avatartrain.models.adapter.AudioProjConfig.parse(configJson, "config"), DataType.FLOAT, 1);
        Map<String, String> expected = new java.util.TreeMap<>();
        model.parameters().forEach((k, v) -> expected.put(prefix + k, java.util.Arrays.toString(v.shape())));
        Map<String, String> got = new java.util.TreeMap<>();
        w.forEach((k, v) -> got.put(k, java.util.Arrays.toString(v.shape())));
        assertEquals(expected, got, weights + ": names and shapes of PyTorch's AudioProj");
        for (Map.Entry<String, INDArray> e : w.entrySet()) {
            INDArray d = e.getValue().castTo(DataType.DOUBLE);
            assertEquals(0, d.isNaN().castTo(DataType.INT).sumNumber().intValue()
                    + d.isInfinite().castTo(DataType.INT).sumNumber().intValue(), e.getKey() + " finite");
        }
        dev.avatartrain.testing.Originals.liveCheck("trained adapter loads strictly into PyTorch's AudioProj", false,
                "src/test/scripts/make_adapter_fixtures.py", "--check-weights", configJson, weights.toString());
    }
}
