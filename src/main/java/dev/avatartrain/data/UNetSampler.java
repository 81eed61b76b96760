package dev.avatartrain.data;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Builds UNet samples from the clips of one shard. For target frame t of clip c: input = masked latent of t ‖
 * latent of a reference frame r of the same clip, condition = audio of frames t−left … t+right (clamped) with the
 * audio positional encoding added, target = latent of t.
 *
 * <p>References are drawn as MuseTalk draws them ({@code musetalk/data/sample_method.py}: resample while
 * {@code |r − t| < 5}): uniformly over the frames at least {@code minDistance} frames from t. Where the clip does not
 * allow that distance (short clips, targets near the middle of one), the distance is lowered to the largest one the
 * clip allows for t ({@link #distanceFor}), never below 1: a reference is never the target itself.
 *
 * <p>Random batches draw frames uniformly over all frames of the shard, with replacement, so a shard with
 * fewer frames than a round needs simply repeats them ("smart repeat": every worker has full batches every
 * round); the generator passed in decides the draw, which makes a retried task draw the same batch.
 */
public final class UNetSampler {
    private final List<ClipLatents> clips;
    private final int left;
    private final int right;
    private final long[] cumulativeFrames;
    private final int minDistance;
    private final AudioPositionalEncoding positionalEncoding;

    /** References at any other frame (distance 1), no positional encoding. */
    public UNetSampler(List<ClipLatents> clips, int left, int right) {
        this(clips, left, right, 1, AudioPositionalEncoding.NONE);
    }

    public UNetSampler(List<ClipLatents> clips, int left, int right, int minDistance, AudioPositionalEncoding positionalEncoding) {
        this.minDistance = Math.max(1, minDistance);
        this.positionalEncoding = positionalEncoding;
        this.clips = new ArrayList<>();
        for (ClipLatents c : clips) if (c.frames() >= 2) this.clips.add(c);
        if (this.clips.isEmpty())
            throw new IllegalArgumentException("no clip with at least 2 frames (a reference frame must differ from the target)");
        this.left = left;
        this.right = right;
        cumulativeFrames = new long[this.clips.size()];
        long total = 0;
        for (int i = 0; i < this.clips.size(); i++) cumulativeFrames[i] = total += this.clips.get(i).frames();
    }

    public List<ClipLatents> clips() {
        return clips;
    }

    public long totalFrames() {
        return cumulativeFrames[cumulativeFrames.length - 1];
    }

    /** A random batch: targets uniform over the shard's frames, references uniform over the other frames of the clip. */
    public UNetBatch draw(int batchSize, SplittableRandom rng) {
        int[][] refs = new int[batchSize][];
        for (int b = 0; b < batchSize; b++) {
            long g = rng.nextLong(totalFrames());
            int c = 0;
            while (cumulativeFrames[c] <= g) c++;
            int n = clips.get(c).frames();
            int t = (int) (g - (c == 0 ? 0 : cumulativeFrames[c - 1]));
            refs[b] = new int[]{c, t, reference(t, n, rng)};
        }
        return build(refs);
    }

    /** The batch of explicitly chosen (clip index, target frame, reference frame) triples. */
    public UNetBatch build(int[][] refs) {
        List<INDArray> inputs = new ArrayList<>(), audios = new ArrayList<>(), targets = new ArrayList<>();
        for (int[] ref : refs) {
            ClipLatents clip = clips.get(ref[0]);
            int t = ref[1], r = ref[2];
            if (r == t) throw new IllegalArgumentException("reference frame equals target frame " + t + " in " + clip.clip());
            INDArray masked = clip.maskedLatents().get(NDArrayIndex.point(t));
            INDArray reference = clip.latents().get(NDArrayIndex.point(r));
            inputs.add(Nd4j.concat(0, masked, reference));
            int[] window = AudioWindow.frames(t, clip.frames(), left, right);
            INDArray[] parts = new INDArray[window.length];
            for (int k = 0; k < window.length; k++) parts[k] = clip.audio().get(NDArrayIndex.point(window[k]));
            audios.add(Nd4j.concat(0, parts));
            targets.add(clip.latents().get(NDArrayIndex.point(t)));
        }
        INDArray audio = positionalEncoding.apply(Nd4j.stack(0, audios.toArray(INDArray[]::new)));
        return new UNetBatch(Nd4j.stack(0, inputs.toArray(INDArray[]::new)), audio,
                Nd4j.stack(0, targets.toArray(INDArray[]::new)), refs);
    }

    /**
     * A fixed validation set: {@code perClip} targets spread evenly over each clip, each with a reference drawn
     * from {@code seed}. The same arguments always give the same samples.
     */
    public int[][] validationRefs(int perClip, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        List<int[]> refs = new ArrayList<>();
        for (int c = 0; c < clips.size(); c++) {
            int n = clips.get(c).frames();
            int k = Math.min(perClip, n);
            for (int i = 0; i < k; i++) {
                int t = (int) ((long) i * n / k);
                refs.add(new int[]{c, t, reference(t, n, rng)});
            }
        }
        return refs.toArray(int[][]::new);
    }

    /** The distance used for target t of a clip of n frames: minDistance, or the largest the clip allows for t (at least 1). */
    public static int distanceFor(int t, int n, int minDistance) {
        return Math.max(1, Math.min(Math.max(1, minDistance), Math.max(t, n - 1 - t)));
    }

    /** A reference uniform over the frames r with |r − t| ≥ {@link #distanceFor}(t, n, minDistance). */
    public int reference(int t, int n, SplittableRandom rng) {
        return reference(t, n, minDistance, rng);
    }

    public static int reference(int t, int n, int minDistance, SplittableRandom rng) {
        int d = distanceFor(t, n, minDistance);
        int before = Math.max(0, t - d + 1); // frames 0 … t−d
        int after = Math.max(0, n - (t + d)); // frames t+d … n−1
        int k = rng.nextInt(before + after);
        return k < before ? k : t + d + (k - before);
    }

    public int minDistance() {
        return minDistance;
    }

    public AudioPositionalEncoding positionalEncoding() {
        return positionalEncoding;
    }
}
