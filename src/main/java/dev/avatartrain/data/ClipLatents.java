package dev.avatartrain.data;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.Serializable;
import java.util.List;

/**
 * One clip's encoded frames: TAESD latents of each frame as is and with its lower half masked, and each
 * frame's audio features. Frames are in order; {@code frameNames.get(i)} names row i of every tensor.
 *
 * @param latents       [N, C, h, w]
 * @param maskedLatents [N, C, h, w]
 * @param audio         [N, A, D] per-frame audio features (A tokens of dimension D)
 */
public record ClipLatents(String clip, List<String> frameNames, INDArray latents, INDArray maskedLatents, INDArray audio)
        implements Serializable {

    public ClipLatents {
        long n = frameNames.size();
        if (latents.rank() != 4 || maskedLatents.rank() != 4 || audio.rank() != 3)
            throw new IllegalArgumentException(clip + ": expected latents [N,C,h,w], masked [N,C,h,w], audio [N,A,D]");
        if (latents.size(0) != n || maskedLatents.size(0) != n || audio.size(0) != n)
            throw new IllegalArgumentException(clip + ": " + n + " frame names but latents " + latents.size(0)
                    + ", masked " + maskedLatents.size(0) + ", audio " + audio.size(0) + " rows");
        if (!java.util.Arrays.equals(latents.shape(), maskedLatents.shape()))
            throw new IllegalArgumentException(clip + ": latents and masked latents differ in shape");
        frameNames = List.copyOf(frameNames);
    }

    public int frames() {
        return frameNames.size();
    }
}
