package dev.avatartrain.data;

import dev.avatartrain.errors.BadInputException;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.*;

class UNetSamplerTest {
    /** A clip whose every value encodes (frame, kind) so a sample's content shows where it came from. */
    private static ClipLatents clip(String name, int frames) {
        INDArray lat = Nd4j.zeros(DataType.FLOAT, frames, 4, 2, 2);
        INDArray masked = Nd4j.zeros(DataType.FLOAT, frames, 4, 2, 2);
        INDArray audio = Nd4j.zeros(DataType.FLOAT, frames, 3, 5);
        for (int t = 0; t < frames; t++) {
            lat.get(NDArrayIndex.point(t)).assign(t);
            masked.get(NDArrayIndex.point(t)).assign(1000 + t);
            audio.get(NDArrayIndex.point(t)).assign(t);
        }
        List<String> names = IntStream.range(0, frames).mapToObj(i -> String.format("%06d", i)).toList();
        return new ClipLatents(name, names, lat, masked, audio);
    }

    @Test
    void audioWindowIsClampedAtTheClipEnds() {
        assertArrayEquals(new int[]{0, 0, 0, 1, 2}, AudioWindow.frames(0, 10, 2, 2));
        assertArrayEquals(new int[]{0, 0, 1, 2, 3}, AudioWindow.frames(1, 10, 2, 2));
        assertArrayEquals(new int[]{3, 4, 5, 6, 7}, AudioWindow.frames(5, 10, 2, 2));
        assertArrayEquals(new int[]{7, 8, 9, 9, 9}, AudioWindow.frames(9, 10, 2, 2));
        assertArrayEquals(new int[]{4, 5}, AudioWindow.frames(5, 10, 1, 0));
        assertArrayEquals(new int[]{0, 0, 0}, AudioWindow.frames(0, 1, 1, 1));
    }

    @Test
    void sampleIsMaskedTargetPlusReferenceWithTheTargetsAudioWindow() {
        UNetSampler s = new UNetSampler(List.of(clip("a", 6)), 2, 2);
        UNetBatch b = s.build(new int[][]{{0, 1, 4}});
        assertArrayEquals(new long[]{1, 8, 2, 2}, b.input().shape());
        assertArrayEquals(new long[]{1, 15, 5}, b.audio().shape(), "5 frames x 3 tokens");
        assertArrayEquals(new long[]{1, 4, 2, 2}, b.target().shape());
        assertEquals(1001.0, b.input().getDouble(0, 0, 0, 0), "channels 0-3: masked latent of t");
        assertEquals(4.0, b.input().getDouble(0, 4, 1, 1), "channels 4-7: latent of the reference");
        assertEquals(1.0, b.target().getDouble(0, 3, 1, 0));
        double[] windowFrames = IntStream.range(0, 5).mapToDouble(k -> b.audio().getDouble(0, k * 3, 0)).toArray();
        assertArrayEquals(new double[]{0, 0, 1, 2, 3}, windowFrames);
    }

    @Test
    void drawsAreSeededReferencesDifferAndSmallShardsRepeat() {
        UNetSampler s = new UNetSampler(List.of(clip("a", 3), clip("b", 2)), 1, 1);
        UNetBatch one = s.draw(64, new SplittableRandom(5));
        UNetBatch two = s.draw(64, new SplittableRandom(5));
        assertEquals(one.input(), two.input(), "same seed, same batch");
        assertNotEquals(one.input(), s.draw(64, new SplittableRandom(6)).input());
        Set<String> seen = new HashSet<>();
        for (int[] r : one.refs()) {
            assertNotEquals(r[1], r[2], "reference differs from target");
            seen.add(r[0] + ":" + r[1]);
        }
        assertEquals(5, seen.size(), "64 draws from 5 frames cover every frame (repeat)");
        assertEquals(64, one.size());
    }

    @Test
    void clipsTooShortForAReferenceAreLeftOut() {
        UNetSampler s = new UNetSampler(List.of(clip("one-frame", 1), clip("b", 4)), 0, 0);
        assertEquals(1, s.clips().size());
        assertThrows(IllegalArgumentException.class, () -> new UNetSampler(List.of(clip("x", 1)), 0, 0));
    }

    @Test
    void validationSetIsFixedAndSpreadOverEachClip() {
        UNetSampler s = new UNetSampler(List.of(clip("a", 10), clip("b", 4)), 0, 0);
        int[][] refs = s.validationRefs(3, 9);
        assertEquals(6, refs.length);
        assertArrayEquals(refs, s.validationRefs(3, 9));
        List<Integer> targetsOfA = new ArrayList<>();
        for (int[] r : refs) if (r[0] == 0) targetsOfA.add(r[1]);
        assertEquals(List.of(0, 3, 6), targetsOfA);
    }

    @Test
    void splitIsByClipDeterministicAndOrderIndependent() {
        List<String> clips = IntStream.range(0, 20).mapToObj(i -> "HDTF-" + i).toList();
        ClipSplit a = ClipSplit.of(clips, 0.2, 1);
        List<String> reversed = new ArrayList<>(clips);
        java.util.Collections.reverse(reversed);
        assertEquals(a, ClipSplit.of(reversed, 0.2, 1));
        assertEquals(4, a.validation().size());
        assertEquals(16, a.train().size());
        assertTrue(a.validation().stream().noneMatch(a.train()::contains));
        assertNotEquals(a.validation(), ClipSplit.of(clips, 0.2, 2).validation());
        assertEquals(1, ClipSplit.of(List.of("x", "y"), 0.1, 1).validation().size(), "at least one held out");
        assertEquals(0, ClipSplit.of(List.of("x"), 0.5, 1).validation().size(), "never all");
        assertEquals(0, ClipSplit.of(clips, 0.0, 1).validation().size());
    }

    @Test
    void framesBecomeChannelsFirstUnitRangeAndTheLowerHalfIsMasked() throws IOException {
        BufferedImage img = new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 8; y++) for (int x = 0; x < 8; x++) img.setRGB(x, y, (255 << 16) | (x * 30 << 8) | 51);
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(img, "png", png);
        float[] chw = FrameImages.toChw(FrameImages.decode(png.toByteArray(), "f.png"), 8);
        assertEquals(1f, chw[0]);
        assertEquals(0.2f, chw[2 * 64 + 5], 1e-6);
        assertEquals(90 / 255f, chw[64 + 3], 1e-6);
        float[] masked = FrameImages.maskLowerHalf(chw, 8);
        assertEquals(chw[3 * 8 + 2], masked[3 * 8 + 2], "upper half kept");
        for (int c = 0; c < 3; c++) for (int i = 32; i < 64; i++) assertEquals(0f, masked[c * 64 + i]);
        float[] half = FrameImages.toChw(img, 4);
        assertEquals(48, half.length);
        BufferedImage back = FrameImages.toImage(FrameImages.stack(List.of(chw), 8).get(NDArrayIndex.point(0)));
        assertEquals(img.getRGB(5, 6), back.getRGB(5, 6));
        BadInputException e = assertThrows(BadInputException.class, () -> FrameImages.decode(new byte[]{1, 2, 3}, "clip/000001.png"));
        assertTrue(e.getMessage().startsWith("clip/000001.png: "), e.getMessage());
    }

    @Test
    void referencesAreAtLeastTheMinimumDistanceAwayWhereTheClipAllows() {
        UNetSampler s = new UNetSampler(List.of(clip("long", 40), clip("short", 6)), 0, 0, 5, AudioPositionalEncoding.NONE);
        SplittableRandom rng = new SplittableRandom(3);
        Set<Integer> seen = new HashSet<>();
        int nearShort = 0;
        for (int i = 0; i < 400; i++) {
            for (int[] ref : s.draw(8, rng).refs()) {
                int t = ref[1], r = ref[2], n = ref[0] == 0 ? 40 : 6;
                assertNotEquals(t, r);
                int allowed = Math.max(t, n - 1 - t);
                assertTrue(Math.abs(r - t) >= Math.min(5, allowed), "clip " + ref[0] + " target " + t + " reference " + r);
                if (ref[0] == 0) seen.add(r - t);
                if (ref[0] == 1 && Math.abs(r - t) < 5) nearShort++;
            }
        }
        assertFalse(seen.contains(1) || seen.contains(-4), "a reference closer than 5 frames in a 40-frame clip");
        assertTrue(seen.contains(5) && seen.contains(-5), "distances " + seen);
        assertTrue(nearShort > 0, "in a 6-frame clip targets 1..4 cannot have a reference 5 away: the largest distance is used");
        // the rule itself: the largest distance the clip allows for t, never below 1
        assertEquals(5, UNetSampler.distanceFor(10, 40, 5));
        assertEquals(3, UNetSampler.distanceFor(2, 6, 5));
        assertEquals(1, UNetSampler.distanceFor(0, 2, 5));
        assertEquals(1, UNetSampler.distanceFor(3, 10, 0));
        // validation references follow the same rule
        for (int[] ref : s.validationRefs(4, 9)) {
            int n = ref[0] == 0 ? 40 : 6;
            assertTrue(Math.abs(ref[2] - ref[1]) >= UNetSampler.distanceFor(ref[1], n, 5));
        }
    }

    @Test
    void everyFrameAtTheAllowedDistanceCanBeDrawn() {
        SplittableRandom rng = new SplittableRandom(1);
        Set<Integer> refs = new HashSet<>();
        for (int i = 0; i < 2000; i++) refs.add(UNetSampler.reference(7, 12, 5, rng));
        assertEquals(Set.of(0, 1, 2), refs); // t+5 = 12 is outside the clip
        refs.clear();
        for (int i = 0; i < 2000; i++) refs.add(UNetSampler.reference(5, 12, 5, rng));
        assertEquals(Set.of(0, 10, 11), refs);
    }

    @Test
    void positionalEncodingIsAddedToTheAudioSequence() {
        ClipLatents odd = clip("a", 8); // audio features of size 5
        INDArray audio = Nd4j.rand(DataType.FLOAT, 8, 3, 6);
        ClipLatents c = new ClipLatents("b", odd.frameNames(), odd.latents(), odd.maskedLatents(), audio);
        int[][] refs = {{0, 4, 0}};
        UNetBatch plain = new UNetSampler(List.of(c), 1, 1).build(refs);
        UNetBatch encoded = new UNetSampler(List.of(c), 1, 1, 1, AudioPositionalEncoding.MUSETALK).build(refs);
        // the sequence is frames 3, 4, 5 × 3 tokens = 9 positions; the encoding is indexed by position in it
        assertEquals(plain.audio().add(AudioPositionalEncoding.table(9, 6).reshape(1, 9, 6)), encoded.audio());
        assertEquals(0.0, encoded.audio().getDouble(0, 0, 0) - plain.audio().getDouble(0, 0, 0), 1e-6); // sin 0
        assertEquals(1.0, encoded.audio().getDouble(0, 0, 1) - plain.audio().getDouble(0, 0, 1), 1e-6); // cos 0
        BadInputException e = assertThrows(BadInputException.class,
                () -> new UNetSampler(List.of(odd), 1, 1, 1, AudioPositionalEncoding.MUSETALK).build(refs));
        assertTrue(e.getMessage().contains("even"), e.getMessage());
    }
}
