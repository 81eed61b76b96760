package dev.avatartrain.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.avatartrain.train.spark.SparkTrainer;
import dev.avatartrain.cli.Main;
import dev.avatartrain.config.AppConfig;
import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.generate.ClipGenerator;
import dev.avatartrain.jobs.EncodeJob;
import dev.avatartrain.jobs.GenerateJob;
import dev.avatartrain.jobs.TrainJob;
import dev.avatartrain.models.unet.UNet;
import dev.avatartrain.models.unet.UNetConfig;
import dev.avatartrain.tensors.TorchFiles;
import dev.avatartrain.tensors.TorchWriter;

/**
 * Fine-tuning released weights end to end on local[2]: a MuseTalk-layout folder (musetalk.json + pytorch_model.bin) is the
 * start; with learning rate 0 the exported MuseTalk weights equal the released ones bit for bit; with a learning rate the
 * validation loss falls; a positional-encoding mismatch (fine-tune or resume) is an error; generate runs on a held-out clip
 * with the exported diffusers folder.
 */
class FineTuneTest {
    static SparkSession spark;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("FineTuneTest").config("spark.ui.enabled", "false").getOrCreate();
        TrainJobTest.spark = spark; // its sampleData helper runs make-metadata on this session
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    @Test
    void fromMuseTalkWeightsExportAndGenerate(@TempDir Path dir) throws Exception {
        TrainJobTest.sampleData(dir);
        Path released = Files.createDirectories(dir.resolve("released"));
        Files.copy(Path.of("configuration/unet/tiny.json"), released.resolve("musetalk.json"));
        Map<String, INDArray> weights = UNet.build(UNetConfig.read(Path.of("configuration/unet/tiny.json")), DataType.FLOAT, 123)
                .export(DataType.FLOAT);
        TorchWriter.writeStateDict(released.resolve("pytorch_model.bin"), weights);
        String[] start = {"model.unet_pretrained_model_name_or_path=" + released, "model.unet_config_file=",
                "train.audio_positional_encoding=musetalk"};

        AppConfig frozen = TrainJobTest.config(dir, "frozen", concat(start, "optimizer.learning_rate=0", "train.max_train_steps=2"));
        EncodeJob.run(spark, frozen);
        SparkTrainer.Result r0 = TrainJob.run(spark, frozen, 0);
        Path ck = Path.of(r0.lastCheckpoint().replaceFirst("^file:", ""));
        assertEquals(0, Main.run("export", "--checkpoint", ck.toString(), "--layout", "musetalk", "--output", dir.resolve("m").toString()));
        Map<String, INDArray> back = TorchFiles.loadStateDict(dir.resolve("m/pytorch_model.bin"), null);
        assertEquals(weights.keySet(), back.keySet());
        weights.forEach((n, a) -> assertEquals(a, back.get(n), "learning rate 0 changed " + n));
        JsonNode state = new ObjectMapper().readTree(ck.resolve(Checkpoints.STATE).toFile());
        assertEquals("musetalk", state.path("info").path("audio_positional_encoding").asText());

        AppConfig tune = TrainJobTest.config(dir, "tune", concat(start, "optimizer.learning_rate=3e-3", "optimizer.lr_scheduler=constant",
                "train.max_train_steps=8", "train.validation_steps=8", "train.checkpointing_steps=8"));
        EncodeJob.run(spark, tune);
        SparkTrainer.Result r = TrainJob.run(spark, tune, 0);
        double first = (Double) r.validations().get(0).get("val_loss"), last = (Double) r.validations().get(r.validations().size() - 1).get("val_loss");
        assertTrue(last < first, "validation loss " + first + " → " + last);

        // the weights say musetalk: fine-tuning them with none is an error; so is resuming a musetalk run with none
        AppConfig wrong = TrainJobTest.config(dir, "wrong", "model.unet_pretrained_model_name_or_path=" + released, "model.unet_config_file=",
                "train.audio_positional_encoding=none");
        BadInputException e = assertThrows(BadInputException.class, () -> TrainJob.run(spark, wrong, 0));
        assertTrue(e.getMessage().contains("audio_positional_encoding") && e.getMessage().contains("musetalk"), e.getMessage());
        AppConfig resume = TrainJobTest.config(dir, "tune", "model.resume_from_checkpoint=latest", "train.audio_positional_encoding=none",
                "train.max_train_steps=10");
        e = assertThrows(BadInputException.class, () -> TrainJob.run(spark, resume, 0));
        assertTrue(e.getMessage().contains("resume_from_checkpoint") && e.getMessage().contains("musetalk"), e.getMessage());
        // both configs given and different: an error naming both
        AppConfig disagree = TrainJobTest.config(dir, "dis", concat(start, "model.unet_config_file=configuration/unet/config.json"));
        e = assertThrows(BadInputException.class, () -> TrainJob.run(spark, disagree, 0));
        assertTrue(e.getMessage().contains("describe different UNets"), e.getMessage());

        // generate on a held-out clip with the exported diffusers folder
        Path ck2 = Path.of(r.lastCheckpoint().replaceFirst("^file:", ""));
        assertEquals(0, Main.run("export", "--checkpoint", ck2.toString(), "--layout", "diffusers", "--output", dir.resolve("d").toString()));
        String heldOut = dev.avatartrain.data.ClipSplit.of(List.of("HDTF-0000", "HDTF-0001", "HDTF-0002", "HDTF-0003"), 0.25, tune.train().seed()).validation().get(0);
        List<ClipGenerator.ClipReport> reports = GenerateJob.run(spark, tune,
                new GenerateJob.Options(dir.resolve("d").toString(), List.of(heldOut, "no-such-clip"), null, dir.resolve("gen").toString()));
        ClipGenerator.ClipReport ok = reports.stream().filter(x -> x.clip().equals(heldOut)).findFirst().orElseThrow();
        assertNull(ok.error());
        assertEquals(ok.frames(), ok.scores().size());
        assertTrue(Double.isFinite(ok.meanPsnr()) && ok.meanSsim() > -1 && ok.meanSsim() <= 1, ok.toString());
        for (ClipGenerator.FrameScore s : ok.scores()) {
            assertTrue(Files.size(dir.resolve("gen").resolve(heldOut).resolve("frames").resolve(s.frame() + ".png")) > 0);
            assertTrue(Math.abs(s.reference() - Integer.parseInt(s.frame())) >= 1);
        }
        assertTrue(Files.size(dir.resolve("gen").resolve(heldOut).resolve("strip.png")) > 0);
        JsonNode clipJson = new ObjectMapper().readTree(dir.resolve("gen").resolve(heldOut).resolve("generate.json").toFile());
        assertEquals(ok.frames(), clipJson.path("per_frame").size());
        assertEquals("musetalk", clipJson.path("audio_positional_encoding").asText());
        JsonNode summary = new ObjectMapper().readTree(dir.resolve("gen").resolve(GenerateJob.SUMMARY).toFile());
        assertTrue(summary.path("clips").toString().contains("no such clip folder"), summary.toString());
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
