package dev.avatartrain.models.adapter;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import dev.avatartrain.errors.BadInputException;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** Window, padding and mask arithmetic against cases worked out by hand from InfiniteTalk's slicing. */
class AudioWindowsTest {
    /** Small config: L = 1, C = 2; blocks/dims irrelevant to the windows. */
    static AudioProjConfig cfg(int window, int vs) {
        return new AudioProjConfig(window, vs, 1, 2, 4, 2, 3, true);
    }

    /** Audio whose frame t holds the value t everywhere, so gathered windows read as frame indices. */
    static INDArray indexAudio(int frames) {
        INDArray a = Nd4j.create(DataType.FLOAT, frames, 1, 2);
        for (int t = 0; t < frames; t++) {
            a.get(NDArrayIndex.point(t)).assign(t);
        }
        return a;
    }

    /** Frame indices of batch row b, later group g (or the first-frame window when g < 0). */
    static int[] read(AudioWindows.Batch batch, int b, int g) {
        INDArray w = g < 0 ? batch.first().get(NDArrayIndex.point(b), NDArrayIndex.point(0))
                : batch.later().get(NDArrayIndex.point(b), NDArrayIndex.point(g));
        int[] out = new int[(int) w.size(0)];
        for (int k = 0; k < out.length; k++) {
            out[k] = (int) w.getDouble(k, 0, 0);
            assertEquals(out[k], w.getDouble(k, 0, 1), 0.0);
        }
        return out;
    }

    @Test
    void outputFramesAndPadding() {
        assertEquals(21, AudioWindows.outputFrames(81, 4)); // InfiniteTalk's 81-frame clip
        assertEquals(81, AudioWindows.paddedLength(81, 4));
        assertEquals(1, AudioWindows.outputFrames(1, 4));
        assertEquals(1, AudioWindows.paddedLength(1, 4));
        assertEquals(2, AudioWindows.outputFrames(2, 4));
        assertEquals(5, AudioWindows.paddedLength(2, 4));
        assertEquals(3, AudioWindows.outputFrames(6, 4)); // 1 + ceil(5/4)
        assertEquals(9, AudioWindows.paddedLength(6, 4));
        assertEquals(3, AudioWindows.outputFrames(9, 4));
        assertEquals(4, AudioWindows.outputFrames(7, 2));
        assertEquals(3, AudioWindows.outputFrames(4, 2));
        assertThrows(IllegalArgumentException.class, () -> AudioWindows.outputFrames(0, 4));
    }

    @Test
    void windowsAreClampedAndCentred() {
        assertArrayEquals(new int[] {0, 0, 0, 1, 2}, AudioWindows.window(0, 9, 5));
        assertArrayEquals(new int[] {2, 3, 4, 5, 6}, AudioWindows.window(4, 9, 5));
        assertArrayEquals(new int[] {6, 7, 8, 8, 8}, AudioWindows.window(8, 9, 5));
        assertArrayEquals(new int[] {0, 0, 0}, AudioWindows.window(0, 1, 3));
        assertArrayEquals(new int[] {3}, AudioWindows.window(3, 9, 1));
    }

    @Test
    void laterGroupKeepsFirstLeftHalfMiddleCentresLastRightHalf() {
        // T=9, w=5, vs=4, group 0 = frames 1..4:
        //   frame 1 window [0,0,1,2,3] -> left half + centre [0,0,1]; frames 2, 3 centres [2,3];
        //   frame 4 window [2,3,4,5,6] -> centre + right half [4,5,6]
        assertArrayEquals(new int[] {0, 0, 1, 2, 3, 4, 5, 6}, AudioWindows.laterWindow(0, 9, 5, 4));
        // group 1 = frames 5..8: [3,4,5] + [6,7] + [8,8,8]
        assertArrayEquals(new int[] {3, 4, 5, 6, 7, 8, 8, 8}, AudioWindows.laterWindow(1, 9, 5, 4));
        // T=6 padded to 9: frames past 5 repeat frame 5
        assertArrayEquals(new int[] {3, 4, 5, 5, 5, 5, 5, 5}, AudioWindows.laterWindow(1, 6, 5, 4));
        // w=3, vs=2, T=7, group 2 = frames 5, 6: [4,5] + [6,6]
        assertArrayEquals(new int[] {4, 5, 6, 6}, AudioWindows.laterWindow(2, 7, 3, 2));
        // w=1: no context, just the group's frames (group 1 = frames 4..6)
        assertArrayEquals(new int[] {4, 5, 6}, AudioWindows.laterWindow(1, 9, 1, 3));
    }

    @Test
    void batchPadsToTheLongestClipAndMasks() {
        AudioProjConfig c = cfg(5, 4);
        AudioWindows.Batch b = AudioWindows.batch(List.of(indexAudio(9), indexAudio(6), indexAudio(1)), null,
                new double[] {1, 2, 0.5}, c, DataType.FLOAT);
        assertArrayEquals(new long[] {3, 1, 5, 1, 2}, b.first().shape());
        assertArrayEquals(new long[] {3, 2, 8, 1, 2}, b.later().shape());
        assertArrayEquals(new int[] {3, 3, 1}, b.frames());
        assertEquals(3, b.outputFrames());
        assertEquals(Nd4j.createFromArray(new float[][] {{1, 1, 1}, {1, 1, 1}, {1, 0, 0}}), b.mask());
        assertEquals(Nd4j.createFromArray(1f, 2f, 0.5f), b.weight());
        assertNull(b.target());
        assertArrayEquals(new int[] {0, 0, 0, 1, 2}, read(b, 0, -1));
        assertArrayEquals(new int[] {0, 0, 1, 2, 3, 4, 5, 6}, read(b, 0, 0));
        assertArrayEquals(new int[] {3, 4, 5, 6, 7, 8, 8, 8}, read(b, 0, 1));
        assertArrayEquals(new int[] {3, 4, 5, 5, 5, 5, 5, 5}, read(b, 1, 1));
        assertArrayEquals(new int[] {0, 0, 0, 0, 0}, read(b, 2, -1));
        assertArrayEquals(new int[] {0, 0, 0, 0, 0, 0, 0, 0}, read(b, 2, 1));
    }

    @Test
    void aOneFrameClipStillHasALaterInput() {
        AudioWindows.Batch b = AudioWindows.batch(List.of(indexAudio(1)), null, null, cfg(3, 2), DataType.DOUBLE);
        assertArrayEquals(new long[] {1, 1, 4, 1, 2}, b.later().shape());
        assertEquals(Nd4j.createFromArray(new double[][] {{1, 0}}), b.mask());
        assertEquals(DataType.DOUBLE, b.first().dataType());
    }

    @Test
    void targetsArePaddedWithZerosAndChecked() {
        AudioProjConfig c = cfg(3, 2);
        INDArray t0 = Nd4j.rand(DataType.FLOAT, 4, 2, 3); // T=7 -> 4 frames
        INDArray t1 = Nd4j.rand(DataType.FLOAT, 2, 2, 3); // T=2 -> 2 frames
        AudioWindows.Batch b = AudioWindows.batch(List.of(indexAudio(7), indexAudio(2)), List.of(t0, t1), null, c,
                DataType.FLOAT);
        assertArrayEquals(new long[] {2, 4, 2, 3}, b.target().shape());
        assertEquals(t1, b.target().get(NDArrayIndex.point(1), NDArrayIndex.interval(0, 2)));
        assertEquals(0.0, b.target().get(NDArrayIndex.point(1), NDArrayIndex.interval(2, 4)).amaxNumber().doubleValue());
        BadInputException e = assertThrows(BadInputException.class, () -> AudioWindows.batch(
                List.of(indexAudio(7)), List.of(t1), null, c, DataType.FLOAT));
        assertTrue(e.getMessage().contains("target 0 has shape [2, 2, 3]; expected [4, 2, 3] for 7 audio frames"),
                e.getMessage());
        e = assertThrows(BadInputException.class, () -> AudioWindows.batch(
                List.of(Nd4j.rand(DataType.FLOAT, 7, 2, 2)), null, null, c, DataType.FLOAT));
        assertTrue(e.getMessage().contains("audio 0 has shape [7, 2, 2]; expected [T, 1, 2]"), e.getMessage());
    }
}
