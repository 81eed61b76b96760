package dev.avatartrain.data;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Builds UNet samples from the clips of one shard. For target frame t of clip c: input = masked latent of t ‖
 * latent of a reference frame r ≠ t of the same clip, condition = audio of frames t−left … t+right (clamped),
 * target = latent of t.
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

    public UNetSampler(List<ClipLatents> clips, int left, int right) {
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
            int r = rng.nextInt(n - 1);
            if (r >= t) r++;
            refs[b] = new int[]{c, t, r};
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
        return new UNetBatch(Nd4j.stack(0, inputs.toArray(INDArray[]::new)), Nd4j.stack(0, audios.toArray(INDArray[]::new)),
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
                int r = rng.nextInt(n - 1);
                if (r >= t) r++;
                refs.add(new int[]{c, t, r});
            }
        }
        return refs.toArray(int[][]::new);
    }
}
