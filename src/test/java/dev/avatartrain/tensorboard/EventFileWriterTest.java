package dev.avatartrain.tensorboard;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import javax.imageio.ImageIO;

import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

import dev.avatartrain.storage.S3Proxy;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.testing.TensorBoardReader;

/**
 * Event files read back by TensorBoard's own reader (CRCs, field numbers, plugin metadata): on a local disk one file
 * that only grows; on S3 (s3proxy on loopback) closed segments, each uploaded once and never rewritten.
 */
class EventFileWriterTest {
    @TempDir
    Path dir;

    @Test
    void localFileGrowsAndTensorBoardReadsScalarsImageAndText() throws Exception {
        Storage out = Storage.forUrl(dir.toString(), null);
        byte[] png = png(24, 16);
        try (EventFileWriter w = EventFileWriter.open(out)) {
            assertEquals(dir.resolve("tensorboard").toString(), w.directory());
            w.write(Events.text(1.0, 0, "config", "    train:\n      max_train_steps: 3\n"));
            Path file = only(dir.resolve("tensorboard"));
            long size = Files.size(file);
            for (int step = 1; step <= 3; step++) {
                w.write(Events.scalars(step, step, scalars(step)));
                assertTrue(Files.size(file) > size, "each event is appended and visible at once");
                size = Files.size(file);
            }
            w.write(Events.image(4.0, 3, "validation/grid", png, 24, 16));
        }
        JsonNode tb = TensorBoardReader.read(dir.resolve("tensorboard"));
        checkScalars(tb, 3);
        JsonNode img = tb.at("/images/validation~1grid/0");
        assertEquals(3, img.get("step").asInt());
        assertEquals(24, img.get("width").asInt());
        assertEquals(16, img.get("height").asInt());
        assertEquals("[24,16]", img.get("decoded").toString(), "the PNG decodes");
        JsonNode text = tb.at("/texts/config/0");
        assertEquals("text", text.get("plugin").asText());
        assertTrue(text.get("text").asText().contains("max_train_steps: 3"), text.toString());
    }

    @Test
    void onS3EverySegmentIsClosedOnceAndTensorBoardReadsThemInOrder() throws Exception {
        try (S3Proxy s3 = new S3Proxy(dir.resolve("s3"))) {
            s3.createBucket("bkt");
            Configuration conf = new Configuration();
            s3.s3aSettings().forEach(conf::set);
            Path segments = dir.resolve("s3/bkt/run/tensorboard"); // s3proxy's filesystem backend: one file per object
            try (Storage out = Storage.forUrl("s3a://bkt/run", conf); EventFileWriter w = EventFileWriter.open(out)) {
                assertEquals("s3a://bkt/run/tensorboard", w.directory());
                w.write(Events.scalars(1.0, 1, scalars(1)));
                assertTrue(!Files.exists(segments), "nothing uploaded before the first flush");
                w.flush();
                Path first = only(segments);
                byte[] firstBytes = Files.readAllBytes(first);
                w.flush(); // nothing new: no empty segment
                w.write(Events.scalars(2.0, 2, scalars(2)));
                w.write(Events.scalars(3.0, 3, scalars(3)));
                w.close();
                List<Path> all = list(segments);
                assertEquals(2, all.size(), all.toString());
                assertEquals(first, all.get(0));
                assertArrayEquals(firstBytes, Files.readAllBytes(first), "a closed segment is never rewritten");
                assertTrue(all.get(1).getFileName().toString().endsWith(".0002"), all.toString());
            }
            checkScalars(TensorBoardReader.read(segments), 3);
        }
    }

    private static Map<String, Double> scalars(int step) {
        Map<String, Double> v = new LinkedHashMap<>();
        v.put("train/loss", 1.0 / step);
        v.put("train/learning_rate", 1e-3 * step);
        return v;
    }

    private static void checkScalars(JsonNode tb, int steps) {
        JsonNode loss = tb.at("/scalars/train~1loss");
        assertEquals(steps, loss.size(), tb.toString());
        for (int i = 0; i < steps; i++) {
            assertEquals(i + 1, loss.get(i).get(0).asInt());
            assertEquals(1.0 / (i + 1), loss.get(i).get(1).asDouble(), 1e-6);
            assertEquals(1e-3 * (i + 1), tb.at("/scalars/train~1learning_rate").get(i).get(1).asDouble(), 1e-9);
        }
    }

    private static byte[] png(int w, int h) throws Exception {
        var img = new java.awt.image.BufferedImage(w, h, java.awt.image.BufferedImage.TYPE_INT_RGB);
        img.setRGB(3, 4, 0xff0000);
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        ImageIO.write(img, "png", b);
        return b.toByteArray();
    }

    private static List<Path> list(Path d) throws Exception {
        try (Stream<Path> s = Files.list(d)) {
            return s.filter(p -> p.getFileName().toString().contains("tfevents")).sorted().toList();
        }
    }

    private static Path only(Path d) throws Exception {
        List<Path> l = list(d);
        assertEquals(1, l.size(), l.toString());
        return l.get(0);
    }
}
