package dev.avatartrain.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A truncated or damaged PNG is refused with its name before OpenCV's libpng sees it: libpng writes raw
 * "libpng error" lines to the process's native stderr, which only a child process's output shows.
 */
class FrameImagesTest {
    @Test
    void damagedPngsGiveOneCleanErrorAndNoLibpngOutput(@TempDir Path dir) throws Exception {
        BufferedImage img = new BufferedImage(40, 40, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 40; y++) for (int x = 0; x < 40; x++) img.setRGB(x, y, (x * 6) << 16 | (y * 6) << 8 | (x ^ y));
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(img, "png", png);
        byte[] good = png.toByteArray();
        Path truncated = dir.resolve("truncated.png");
        Files.write(truncated, Arrays.copyOf(good, good.length / 2));
        byte[] flipped = good.clone();
        flipped[good.length / 2] ^= 0x5a;
        Path damaged = dir.resolve("damaged.png");
        Files.write(damaged, flipped);
        assertEquals(3 * 32 * 32, FrameImages.decodeChw(good, "good.png", 32).length);

        String t = run(truncated), d = run(damaged);
        assertTrue(t.strip().startsWith("error: " + truncated + ": corrupt PNG: ") && t.contains("truncated"), t);
        assertTrue(d.strip().startsWith("error: " + damaged + ": corrupt PNG: ") && d.contains("CRC"), d);
        assertTrue(!t.contains("libpng") && !d.contains("libpng"), t + d);
    }

    /** A PNG declaring 30000×30000 (a few KB here) is refused from its header, never decoded; so is a non-image. */
    @Test
    void decompressionBombsAndNonImagesAreRefusedBeforeDecoding() throws Exception {
        BufferedImage img = new BufferedImage(40, 30, BufferedImage.TYPE_INT_RGB);
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(img, "png", png);
        byte[] bomb = png.toByteArray();
        java.nio.ByteBuffer.wrap(bomb).putInt(16, 30000).putInt(20, 30000); // IHDR's width and height
        java.util.zip.CRC32 crc = new java.util.zip.CRC32();
        crc.update(bomb, 12, 17);
        java.nio.ByteBuffer.wrap(bomb).putInt(29, (int) crc.getValue()); // a valid header: only its size is hostile
        var e = org.junit.jupiter.api.Assertions.assertThrows(dev.avatartrain.errors.BadInputException.class,
                () -> FrameImages.decodeChw(bomb, "bomb.png", 256));
        assertEquals("bomb.png: declares 30000×30000 pixels; frames may be at most 2048 on a side (IMAGE_SIZE 256 × 8),"
                + " so it was not decoded.", e.getMessage());
        // JPEG: the size from its SOF segment
        ByteArrayOutputStream jpg = new ByteArrayOutputStream();
        ImageIO.write(new BufferedImage(300, 20, BufferedImage.TYPE_INT_RGB), "jpg", jpg);
        e = org.junit.jupiter.api.Assertions.assertThrows(dev.avatartrain.errors.BadInputException.class,
                () -> FrameImages.decodeChw(jpg.toByteArray(), "wide.jpg", 32));
        assertTrue(e.getMessage().startsWith("wide.jpg: declares 300×20 pixels"), e.getMessage());
        assertEquals(3 * 64 * 64, FrameImages.decodeChw(jpg.toByteArray(), "ok.jpg", 64).length);
        byte[] gif = "GIF89a....".getBytes(StandardCharsets.US_ASCII);
        e = org.junit.jupiter.api.Assertions.assertThrows(dev.avatartrain.errors.BadInputException.class,
                () -> FrameImages.decodeChw(gif, "x.png", 32));
        assertEquals("x.png: not a PNG or JPEG image (starts with bytes 4749463839612e2e).", e.getMessage());
    }

    private static String run(Path file) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments().stream().filter(a -> !a.startsWith("-agentlib")).toList());
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), DecodeFrame.class.getName(), file.toString()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(2, TimeUnit.MINUTES), "child did not finish: " + out);
        // only our line: no libpng output, no warnings from the decoder
        return out.lines().filter(l -> !l.startsWith("WARNING: Using incubator modules")).reduce("", (a, b) -> a + b + "\n");
    }
}
