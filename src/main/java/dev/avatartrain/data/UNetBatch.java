package dev.avatartrain.data;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.Serializable;

/**
 * A batch for the lip-sync UNet.
 *
 * @param input  [B, 2C, h, w]: masked latent of the target frame ‖ latent of the reference frame
 * @param audio  [B, (left + 1 + right) · A, D]: audio features of the frames around the target, as one sequence
 * @param target [B, C, h, w]: latent of the target frame
 * @param refs   (clip index, target frame, reference frame) of each sample, for reports and grids
 */
public record UNetBatch(INDArray input, INDArray audio, INDArray target, int[][] refs) implements Serializable {
    public int size() {
        return (int) input.size(0);
    }
}
