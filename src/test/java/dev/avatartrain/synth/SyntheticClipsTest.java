package dev.avatartrain.synth;

import dev.avatartrain.tensors.Npy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.*;

class SyntheticClipsTest {
    private static final SyntheticClips.Spec SPEC = new SyntheticClips.Spec(2, 12, 64, 3, 16, 7, "aligned-frames", "audio");

    @TempDir
    Path dir;

    @Test
    void writesAnHdtfLikeTreeOfRealPngAndNpyFiles() throws IOException {
        assertEquals(24, SyntheticClips.write(dir, SPEC));
        for (String clip : List.of("HDTF-0001", "HDTF-0002")) {
            for (int t = 0; t < 12; t++) {
                String frame = String.format("%06d", t);
                BufferedImage img = ImageIO.read(dir.resolve("aligned-frames").resolve(clip).resolve(frame + ".png").toFile());
                assertNotNull(img, "PNG decodes");
                assertEquals(64, img.getWidth());
                assertEquals(64, img.getHeight());
                INDArray audio = Npy.read(dir.resolve("audio").resolve(clip).resolve(frame + ".npy")).toINDArray(DataType.FLOAT);
                assertArrayEquals(new long[]{3, 16}, audio.shape());
            }
        }
        try (Stream<Path> files = Files.walk(dir)) {
            assertEquals(48, files.filter(Files::isRegularFile).count(), "no stray or temporary files");
        }
    }

    @Test
    void sameSeedWritesIdenticalFilesAndAnotherSeedDoesNot() throws IOException {
        Path a = dir.resolve("a"), b = dir.resolve("b"), c = dir.resolve("c");
        SyntheticClips.write(a, SPEC);
        SyntheticClips.write(b, SPEC);
        SyntheticClips.write(c, new SyntheticClips.Spec(2, 12, 64, 3, 16, 8, "aligned-frames", "audio"));
        Path png = Path.of("aligned-frames", "HDTF-0002", "000005.png");
        Path npy = Path.of("audio", "HDTF-0002", "000005.npy");
        assertArrayEquals(Files.readAllBytes(a.resolve(png)), Files.readAllBytes(b.resolve(png)));
        assertArrayEquals(Files.readAllBytes(a.resolve(npy)), Files.readAllBytes(b.resolve(npy)));
        assertFalse(Arrays.equals(Files.readAllBytes(a.resolve(npy)), Files.readAllBytes(c.resolve(npy))));
    }

    @Test
    void mouthOpeningAndAudioFeaturesFollowTheSameSignal() throws IOException {
        SyntheticClips.Spec spec = new SyntheticClips.Spec(1, 40, 128, 2, 8, 3, "aligned-frames", "audio");
        SyntheticClips.write(dir, spec);
        double[] dark = new double[40], signal = new double[40], audioNorm = new double[40];
        for (int t = 0; t < 40; t++) {
            String f = String.format("%06d", t);
            BufferedImage img = ImageIO.read(dir.resolve("aligned-frames/HDTF-0001/" + f + ".png").toFile());
            // Dark mouth-interior pixels in the lower half of the frame.
            for (int y = 64; y < 128; y++)
                for (int x = 0; x < 128; x++) {
                    int rgb = img.getRGB(x, y);
                    int r = (rgb >> 16) & 255, g = (rgb >> 8) & 255, b = rgb & 255;
                    if (r < 70 && g < 30 && b < 35) dark[t]++;
                }
            signal[t] = SyntheticClips.mouthSignal(spec, 0, t);
            audioNorm[t] = Npy.read(dir.resolve("audio/HDTF-0001/" + f + ".npy")).toINDArray(DataType.FLOAT).norm2Number().doubleValue();
        }
        assertTrue(correlation(dark, signal) > 0.9, "mouth opening follows the signal");
        assertTrue(correlation(audioNorm, signal) > 0.9, "audio features carry the signal");
    }

    private static double correlation(double[] a, double[] b) {
        double ma = Arrays.stream(a).average().orElse(0), mb = Arrays.stream(b).average().orElse(0);
        double num = 0, va = 0, vb = 0;
        for (int i = 0; i < a.length; i++) {
            num += (a[i] - ma) * (b[i] - mb);
            va += (a[i] - ma) * (a[i] - ma);
            vb += (b[i] - mb) * (b[i] - mb);
        }
        return num / Math.sqrt(va * vb);
    }
}
