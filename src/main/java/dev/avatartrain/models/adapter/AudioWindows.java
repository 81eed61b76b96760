package dev.avatartrain.models.adapter;

import java.util.Arrays;
import java.util.List;

import dev.avatartrain.errors.BadInputException;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The adapter's inference windowing (InfiniteTalk {@code wan/multitalk.py} + {@code WanModel.forward}) and the
 * batching of variable-length clips for training.
 *
 * <p>Per-frame audio {@code [T, L, C]} becomes, for every frame t, the window of {@code audio_window} frames
 * {@code t - w/2 … t + w/2} clamped to {@code [0, T-1]}. Frame 0's window alone is the first-frame input
 * {@code [1, w, L, C]}. The later frames are taken in groups of {@code vae_scale}; a group keeps its first frame's
 * window up to and including the centre, the centres of its middle frames, and its last frame's window from the
 * centre on: {@code w + vae_scale - 1} frames. Because the windows are consecutive, that is exactly the
 * clamped run of frames {@code f0 - w/2 … f0 + vae_scale - 1 + w/2} for a group starting at {@code f0}; this class
 * gathers those rows directly. There are {@code 1 + (T-1)/vae_scale} output frames.
 *
 * <p>A clip whose length is not {@code 1 + k·vae_scale} is padded at the end to the next such length by
 * repeating its last audio frame (the same as clamping every window index to the clip's last frame), giving
 * {@code 1 + ⌈(T-1)/vae_scale⌉} output frames, the last one covering the partial group. A batch pads every clip
 * this way to the longest one's output-frame count (at least 2, so the later-frame input is never empty) and
 * marks the padding in {@link Batch#mask()}.
 */
public final class AudioWindows {
    private AudioWindows() {
    }

    /** Output (latent) frames of a clip of {@code frames} video frames: {@code 1 + ⌈(T-1)/vae_scale⌉}. */
    public static int outputFrames(int frames, int vaeScale) {
        if (frames < 1) {
            throw new IllegalArgumentException("a clip has at least one frame, not " + frames);
        }
        return 1 + Math.floorDiv(frames - 1 + vaeScale - 1, vaeScale);
    }

    /** The length a clip is padded to: {@code 1 + vae_scale·⌈(T-1)/vae_scale⌉}. */
    public static int paddedLength(int frames, int vaeScale) {
        return 1 + vaeScale * (outputFrames(frames, vaeScale) - 1);
    }

    /** The source frames of frame {@code t}'s window in a clip of {@code length} frames (clamped at both ends). */
    public static int[] window(int t, int length, int audioWindow) {
        int half = audioWindow / 2;
        int[] idx = new int[audioWindow];
        for (int k = 0; k < audioWindow; k++) {
            idx[k] = clamp(t - half + k, length);
        }
        return idx;
    }

    /** The source frames of later group {@code group} (0-based; output frame {@code group + 1}). */
    public static int[] laterWindow(int group, int length, int audioWindow, int vaeScale) {
        int half = audioWindow / 2;
        int f0 = 1 + group * vaeScale;
        int[] idx = new int[audioWindow + vaeScale - 1];
        for (int k = 0; k < idx.length; k++) {
            idx[k] = clamp(f0 - half + k, length);
        }
        return idx;
    }

    private static int clamp(int i, int length) {
        return Math.max(0, Math.min(length - 1, i));
    }

    /** One clip's adapter inputs: first {@code [1, 1, w, L, C]}, later {@code [1, n, w+vs-1, L, C]}. */
    public record Inputs(INDArray first, INDArray later) {
    }

    /** The inputs of one clip {@code audio [T, L, C]} (padded at the end if T is not 1 + k·vae_scale). */
    public static Inputs clip(INDArray audio, AudioProjConfig c, DataType dtype) {
        Batch b = batch(List.of(audio), null, null, c, dtype);
        return new Inputs(b.first(), b.later());
    }

    /**
     * A training or inference batch.
     *
     * @param first  {@code [B, 1, w, L, C]}
     * @param later  {@code [B, N-1, w+vs-1, L, C]}
     * @param mask   {@code [B, N]}: 1 for the clip's own output frames, 0 for batch padding
     * @param weight {@code [B]}: each example's loss weight (1 unless given)
     * @param target {@code [B, N, tokens, dim]} padded with zeros, or null when no targets were given
     * @param frames each clip's own output-frame count
     */
    public record Batch(INDArray first, INDArray later, INDArray mask, INDArray weight, INDArray target,
                       int[] frames) {
        /** Output frames N of the batch (padded). */
        public int outputFrames() {
            return (int) mask.size(1);
        }
    }

    /**
     * Windows {@code audios} (each {@code [T_i, L, C]}) into one batch padded to the longest clip (at least two
     * output frames). {@code targets} (each {@code [1 + ⌈(T_i-1)/vs⌉, tokens, dim]}) and {@code weights} may be
     * null.
     */
    public static Batch batch(List<INDArray> audios, List<INDArray> targets, double[] weights, AudioProjConfig c,
                              DataType dtype) {
        int b = audios.size();
        if (b == 0) {
            throw new IllegalArgumentException("empty batch");
        }
        if (targets != null && targets.size() != b) {
            throw new IllegalArgumentException(targets.size() + " targets for " + b + " clips");
        }
        if (weights != null && weights.length != b) {
            throw new IllegalArgumentException(weights.length + " weights for " + b + " clips");
        }
        int w = c.audioWindow();
        int vs = c.vaeScale();
        int wvf = c.windowVf();
        long lc = (long) c.blocks() * c.channels();
        int[] frames = new int[b];
        int n = 2;
        for (int i = 0; i < b; i++) {
            long[] s = audios.get(i).shape();
            if (s.length != 3 || s[1] != c.blocks() || s[2] != c.channels() || s[0] < 1) {
                throw new BadInputException("audio " + i + " has shape " + Arrays.toString(s) + "; expected [T, "
                        + c.blocks() + ", " + c.channels() + "] with T >= 1.");
            }
            frames[i] = outputFrames((int) s[0], vs);
            n = Math.max(n, frames[i]);
        }
        INDArray first = Nd4j.create(dtype, b, 1, w, c.blocks(), c.channels());
        INDArray later = Nd4j.create(dtype, b, n - 1, wvf, c.blocks(), c.channels());
        // row views: [B*w, L*C] and [B*(N-1)*wvf, L*C]; each clip's rows are a contiguous block filled by pullRows
        INDArray firstRows = first.reshape('c', (long) b * w, lc);
        INDArray laterRows = later.reshape('c', (long) b * (n - 1) * wvf, lc);
        INDArray mask = Nd4j.zeros(dtype, b, n);
        INDArray weight = Nd4j.ones(dtype, b);
        INDArray target = null;
        for (int i = 0; i < b; i++) {
            INDArray a = audios.get(i);
            int len = (int) a.size(0);
            INDArray rows = a.castTo(dtype);
            rows = (rows.isView() || rows.ordering() != 'c' ? rows.dup('c') : rows).reshape('c', len, lc);
            int[] idx = new int[(n - 1) * wvf];
            for (int g = 0; g < n - 1; g++) {
                System.arraycopy(laterWindow(g, len, w, vs), 0, idx, g * wvf, wvf);
            }
            Nd4j.pullRows(rows, firstRows.get(NDArrayIndex.interval((long) i * w, (long) (i + 1) * w),
                    NDArrayIndex.all()), 1, window(0, len, w));
            Nd4j.pullRows(rows, laterRows.get(NDArrayIndex.interval((long) i * idx.length,
                    (long) (i + 1) * idx.length), NDArrayIndex.all()), 1, idx);
            mask.get(NDArrayIndex.point(i), NDArrayIndex.interval(0, frames[i])).assign(1);
            if (weights != null) {
                weight.putScalar(i, weights[i]);
            }
            if (targets != null) {
                INDArray t = targets.get(i);
                long[] ts = t.shape();
                if (ts.length != 3 || ts[0] != frames[i] || ts[1] != c.contextTokens() || ts[2] != c.outputDim()) {
                    throw new BadInputException("target " + i + " has shape " + Arrays.toString(ts) + "; expected ["
                            + frames[i] + ", " + c.contextTokens() + ", " + c.outputDim() + "] for " + len
                            + " audio frames.");
                }
                if (target == null) {
                    target = Nd4j.zeros(dtype, b, n, c.contextTokens(), c.outputDim());
                }
                target.get(NDArrayIndex.point(i), NDArrayIndex.interval(0, frames[i])).assign(t.castTo(dtype));
            }
        }
        return new Batch(first, later, mask, weight, target, frames);
    }
}
