package dev.avatartrain.train.optim;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Map;

/** Clipping of all gradients together by their global L2 norm, as {@code torch.nn.utils.clip_grad_norm_}. */
public final class GradientClipping {
    private GradientClipping() {}

    /**
     * Scales every gradient in place by {@code maxNorm / (total + 1e-6)} when that is below 1, where {@code total}
     * is the L2 norm of all gradients concatenated; {@code maxNorm <= 0} leaves them as they are. Returns
     * {@code total} before clipping. A non-finite total (an overflowing or NaN gradient) is returned and nothing
     * is scaled; the caller decides whether to skip the step (torch would turn every gradient into NaN).
     */
    public static double clipGlobalNorm(Map<String, INDArray> grads, double maxNorm) {
        double sumSquares = 0;
        for (INDArray g : grads.values()) {
            double n = g.norm2Number().doubleValue();
            sumSquares += n * n;
        }
        double total = Math.sqrt(sumSquares);
        double scale = scale(total, maxNorm);
        if (scale < 1.0) {
            for (INDArray g : grads.values()) g.muli(scale);
        }
        return total;
    }

    /** The factor {@link #clipGlobalNorm} multiplies the gradients by for a global norm {@code total}: 1 when not clipping. */
    public static double scale(double total, double maxNorm) {
        if (maxNorm > 0 && Double.isFinite(total)) return Math.min(1.0, maxNorm / (total + 1e-6));
        return 1.0;
    }
}
