package dev.avatartrain.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.avatartrain.config.AppConfig;
import dev.avatartrain.jobs.EncodeJob;
import dev.avatartrain.jobs.MakeMetadataJob;
import dev.avatartrain.jobs.SynthJob;
import dev.avatartrain.jobs.TrainJob;
import dev.avatartrain.synth.SyntheticClips;
import dev.avatartrain.testing.TensorBoardReader;

/**
 * The demo configuration (tiny sizes) trained in two sessions, read back with TensorBoard's own reader: training
 * scalars at every step, validation scalars and one grid image per validation, the configuration as text; metrics
 * appended across the resume.
 */
class TrackingTest {
    static SparkSession spark;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("TrackingTest").config("spark.ui.enabled", "false").getOrCreate();
    }

    @AfterAll
    static void stop() {
        spark.stop();
    }

    @Test
    void aRunInTwoSessionsIsReadByTensorBoard(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("data");
        SynthJob.run(data, new SyntheticClips.Spec(4, 8, 32, 2, 32, 5, "aligned-frames", "audio"));
        MakeMetadataJob.run(spark, new MakeMetadataJob.Options(MakeMetadataJob.Mode.scan, data.toString(), dir.resolve("metadata.json").toString(),
                null, false, false, "aligned-frames", "audio"));
        AppConfig first = TrainJobTest.config(dir, "out", "train.dashboard_port=0", "train.wandb_enabled=false");
        EncodeJob.run(spark, first);
        assertEquals(2, TrainJob.run(spark, first, 2).step());
        TrainJob.run(spark, TrainJobTest.config(dir, "out", "train.dashboard_port=0", "train.wandb_enabled=false",
                "model.resume_from_checkpoint=latest"), 0);

        Path tb = dir.resolve("out/tensorboard");
        JsonNode events = TensorBoardReader.read(tb);
        assertEquals(List.of(1L, 2L, 3L, 4L), steps(events.at("/scalars/train~1loss")), events.toString());
        for (String tag : List.of("train~1learning_rate", "train~1grad_norm", "train~1samples_per_second")) {
            assertEquals(List.of(1L, 2L, 3L, 4L), steps(events.at("/scalars/" + tag)), tag);
        }
        assertEquals(List.of(0L, 2L, 4L), steps(events.at("/scalars/validation~1loss")));
        assertEquals(List.of(0L, 2L, 4L), steps(events.at("/scalars/validation~1mouth_psnr_db")));
        JsonNode grids = events.at("/images/validation~1grid");
        assertEquals(3, grids.size(), "one image per validation: " + grids);
        for (int i = 0; i < 3; i++) {
            assertEquals(2L * i, grids.get(i).get("step").asLong());
            assertEquals(grids.get(i).get("width").asInt(), grids.get(i).get("decoded").get(0).asInt(), "PNG decodes at the recorded size");
        }
        JsonNode config = events.at("/texts/config");
        assertEquals(2, config.size(), "the configuration of each session");
        assertTrue(config.get(0).get("text").asText().contains("max_train_steps: 4"), config.toString());

        // the same numbers as the metrics file, which the resumed session appended to
        List<String> rows = Files.readAllLines(dir.resolve("out/metrics.jsonl"));
        assertEquals(7, rows.size(), "val 0, steps 1-2, val 2 | steps 3-4, val 4: " + rows);
        JsonNode step3 = new ObjectMapper().readTree(rows.get(4));
        assertEquals(3, step3.get("step").asInt());
        assertEquals(step3.get("train_loss").asDouble(), events.at("/scalars/train~1loss").get(2).get(1).asDouble(), 1e-6);
        assertEquals(step3.get("lr").asDouble(), events.at("/scalars/train~1learning_rate").get(2).get(1).asDouble(), 1e-9);
    }

    private static List<Long> steps(JsonNode scalars) {
        List<Long> s = new ArrayList<>();
        scalars.forEach(e -> s.add(e.get(0).asLong()));
        return s;
    }

    interface Body {
        void run() throws Exception;
    }

    /** What the product logged to stdout while {@code body} ran (the console appender follows System.out). */
    static String captured(Body body) throws Exception {
        PrintStream old = System.out;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true));
        try {
            body.run();
        } finally {
            System.setOut(old);
        }
        String s = out.toString();
        old.print(s);
        return s;
    }
}
