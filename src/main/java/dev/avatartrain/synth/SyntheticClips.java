package dev.avatartrain.synth;

import dev.avatartrain.storage.AtomicFiles;
import dev.avatartrain.tensors.Npy;
import org.nd4j.linalg.factory.Nd4j;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.Ellipse2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

/**
 * Writes {@code out/<imageFolder>/HDTF-0001/000000.png} and {@code out/<audioFolder>/HDTF-0001/000000.npy}.
 *
 * <p>Each clip has a smooth "speech" signal s(t) in [0, 1]. The frame draws a face whose mouth opening is
 * proportional to s(t); the frame's audio features are {@code s(t) * P + noise} with a projection P shared
 * by all clips of a seed, shape [tokens, dim] (float32). Everything is a function of the seed, so the same
 * seed writes byte-identical files.
 */
public final class SyntheticClips {
    /** What to generate; see {@code avatar-train synth --help}. */
    public record Spec(int clips, int frames, int size, int audioTokens, int audioDim, long seed,
                       String imageFolderName, String audioFolderName) {
        public Spec {
            if (clips < 1) throw new IllegalArgumentException("clips must be >= 1, got " + clips);
            if (frames < 2) throw new IllegalArgumentException("frames must be >= 2, got " + frames);
            if (size < 16) throw new IllegalArgumentException("size must be >= 16 pixels, got " + size);
            if (audioTokens < 1 || audioDim < 1)
                throw new IllegalArgumentException("audio shape must be positive, got " + audioTokens + "," + audioDim);
        }
    }

    private static final float NOISE = 0.05f;

    private SyntheticClips() {}

    public static String clipName(int index) {
        return String.format("HDTF-%04d", index + 1);
    }

    public static String frameName(int index) {
        return String.format("%06d", index);
    }

    /** Writes every clip (clips in parallel) and returns the number of frames written. */
    public static long write(Path out, Spec spec) {
        float[] projection = projection(spec);
        IntStream.range(0, spec.clips()).parallel().forEach(c -> writeClip(out, spec, c, projection));
        return (long) spec.clips() * spec.frames();
    }

    /** The mouth signal of clip {@code clip} at frame {@code t}, in [0, 1]. */
    public static double mouthSignal(Spec spec, int clip, int t) {
        SplittableRandom r = new SplittableRandom(mix(spec.seed(), clip, 1));
        double v = 0;
        for (int k = 0; k < 3; k++) {
            double period = 6 + r.nextDouble() * 20; // frames: syllable-like rates at 25 fps
            double phase = r.nextDouble() * 2 * Math.PI;
            v += Math.sin(2 * Math.PI * t / period + phase) / 3;
        }
        return Math.max(0, Math.min(1, 0.5 + 0.75 * v));
    }

    private static float[] projection(Spec spec) {
        SplittableRandom r = new SplittableRandom(mix(spec.seed(), -1, 2));
        float[] p = new float[spec.audioTokens() * spec.audioDim()];
        for (int i = 0; i < p.length; i++) p[i] = (float) gaussian(r);
        return p;
    }

    private static void writeClip(Path out, Spec spec, int clip, float[] projection) {
        String name = clipName(clip);
        Path imageDir = out.resolve(spec.imageFolderName()).resolve(name);
        Path audioDir = out.resolve(spec.audioFolderName()).resolve(name);
        Face face = Face.random(new SplittableRandom(mix(spec.seed(), clip, 3)), spec.size());
        SplittableRandom noise = new SplittableRandom(mix(spec.seed(), clip, 4));
        try {
            for (int t = 0; t < spec.frames(); t++) {
                double s = mouthSignal(spec, clip, t);
                BufferedImage img = face.draw(s, t);
                AtomicFiles.write(imageDir.resolve(frameName(t) + ".png"), o -> ImageIO.write(img, "png", o));
                float[] feat = new float[projection.length];
                for (int i = 0; i < feat.length; i++) feat[i] = (float) (s * projection[i] + NOISE * gaussian(noise));
                var arr = Nd4j.create(feat, new long[]{spec.audioTokens(), spec.audioDim()}, 'c');
                AtomicFiles.write(audioDir.resolve(frameName(t) + ".npy"), o -> Npy.write(o, arr));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot write clip " + name + " under " + out + ": " + e.getMessage(), e);
        }
    }

    /** A face of one clip: colours and geometry fixed per clip, a little head motion per frame. */
    private record Face(int size, Color background, Color skin, Color lips, double cx, double cy, double w, double h,
                        double swayAmp, double swayPeriod) {
        static Face random(SplittableRandom r, int size) {
            Color bg = new Color(40 + r.nextInt(170), 40 + r.nextInt(170), 40 + r.nextInt(170));
            int tone = 120 + r.nextInt(110);
            Color skin = new Color(Math.min(255, tone + 30), tone, Math.max(0, tone - 40));
            Color lips = new Color(110 + r.nextInt(60), 20 + r.nextInt(30), 30 + r.nextInt(30));
            return new Face(size, bg, skin, lips, size * (0.47 + 0.06 * r.nextDouble()), size * (0.48 + 0.04 * r.nextDouble()),
                    size * (0.52 + 0.08 * r.nextDouble()), size * (0.70 + 0.08 * r.nextDouble()),
                    size * 0.01 * r.nextDouble(), 30 + 40 * r.nextDouble());
        }

        BufferedImage draw(double mouth, int t) {
            BufferedImage img = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = img.createGraphics();
            g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
            g.setColor(background);
            g.fillRect(0, 0, size, size);
            double x = cx + swayAmp * Math.sin(2 * Math.PI * t / swayPeriod);
            g.setColor(skin);
            g.fill(new Ellipse2D.Double(x - w / 2, cy - h / 2, w, h));
            // Eyes
            g.setColor(Color.WHITE);
            double eyeY = cy - h * 0.14, eyeDx = w * 0.2, eyeW = w * 0.16, eyeH = h * 0.07;
            g.fill(new Ellipse2D.Double(x - eyeDx - eyeW / 2, eyeY - eyeH / 2, eyeW, eyeH));
            g.fill(new Ellipse2D.Double(x + eyeDx - eyeW / 2, eyeY - eyeH / 2, eyeW, eyeH));
            g.setColor(new Color(30, 30, 40));
            double pupil = eyeH * 0.8;
            g.fill(new Ellipse2D.Double(x - eyeDx - pupil / 2, eyeY - pupil / 2, pupil, pupil));
            g.fill(new Ellipse2D.Double(x + eyeDx - pupil / 2, eyeY - pupil / 2, pupil, pupil));
            // Nose
            g.setColor(skin.darker());
            g.setStroke(new BasicStroke((float) Math.max(1, size / 128.0)));
            g.drawLine((int) x, (int) (cy - h * 0.05), (int) (x - w * 0.04), (int) (cy + h * 0.08));
            // Mouth: lips ring, dark opening whose height follows the signal
            double mouthY = cy + h * 0.24, mouthW = w * 0.38;
            double open = h * (0.02 + 0.16 * mouth);
            g.setColor(lips);
            g.fill(new Ellipse2D.Double(x - mouthW / 2, mouthY - open / 2 - h * 0.025, mouthW, open + h * 0.05));
            g.setColor(new Color(45, 10, 15));
            g.fill(new Ellipse2D.Double(x - mouthW * 0.4, mouthY - open / 2, mouthW * 0.8, open));
            g.dispose();
            return img;
        }
    }

    private static long mix(long seed, int clip, int stream) {
        long h = seed * 0x9E3779B97F4A7C15L + clip * 0xBF58476D1CE4E5B9L + stream * 0x94D049BB133111EBL;
        h ^= h >>> 31;
        return h * 0xD6E8FEB86659FD93L;
    }

    private static double gaussian(SplittableRandom r) {
        // Box-Muller: SplittableRandom has no nextGaussian on Java 17.
        double u1 = r.nextDouble(), u2 = r.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
    }
}
