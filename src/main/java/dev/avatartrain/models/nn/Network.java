package dev.avatartrain.models.nn;

import java.util.List;
import java.util.Map;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A network as the training engine sees it: named parameters (PyTorch names, the network's live arrays: writing into
 * them changes the network), a forward pass and the loss with its gradients, from named input arrays. Which backend
 * computes them was chosen when the network was built ({@link Backend}).
 */
public interface Network {
    /** Trainable parameter names (PyTorch names), in a fixed order. */
    List<String> parameterNames();

    /** name → live parameter array, in {@link #parameterNames()} order. */
    Map<String, INDArray> parameters();

    /** The backend this network computes on. */
    Backend backend();

    /** Runs the network forward on {@code inputs} and returns the named outputs (the output and/or losses). */
    Map<String, INDArray> forward(Map<String, INDArray> inputs, String... outputs);

    /** A loss value and the gradients of every trainable parameter, by name in {@link #parameterNames()} order. */
    record LossAndGradients(double loss, Map<String, INDArray> gradients) {}

    /** The scalar {@code loss} and its gradients for one batch in one pass (what a training step needs). */
    LossAndGradients lossAndGradients(Map<String, INDArray> inputs, String loss);

    /**
     * One micro-batch of gradient accumulation: adds {@code scale} × the gradients of {@code loss} into {@code sums}
     * (name → array, updated in place), or, when {@code sums} is empty, fills it with them (arrays {@link #recycle}
     * takes back); returns the loss. Default: by {@link #lossAndGradients} and a scaled copy of its gradients.
     */
    default double accumulateGradients(Map<String, INDArray> inputs, String loss, double scale,
                                       Map<String, INDArray> sums) {
        LossAndGradients r = lossAndGradients(inputs, loss);
        boolean first = sums.isEmpty();
        for (Map.Entry<String, INDArray> e : r.gradients().entrySet()) {
            INDArray scaled = e.getValue().mul(scale);
            if (first) {
                sums.put(e.getKey(), scaled);
            } else {
                sums.get(e.getKey()).addi(scaled);
            }
        }
        recycle(r.gradients());
        return r.loss();
    }

    /**
     * As {@link #lossAndGradients(Map, String)}, telling {@code gradientFinal} each parameter's gradient (name, array)
     * once it is final, during the backward pass where the backend can (so the caller can reduce it while the pass goes
     * on), else after it; every parameter is told once, the arrays are those returned. Default: all after the pass,
     * last parameter first (the order a backward pass finishes them).
     */
    default LossAndGradients lossAndGradients(Map<String, INDArray> inputs, String loss,
                                              java.util.function.BiConsumer<String, INDArray> gradientFinal) {
        LossAndGradients r = lossAndGradients(inputs, loss);
        List<String> names = new java.util.ArrayList<>(r.gradients().keySet());
        for (int i = names.size() - 1; i >= 0; i--) gradientFinal.accept(names.get(i), r.gradients().get(names.get(i)));
        return r;
    }

    /**
     * Gives back gradients {@link #lossAndGradients} or {@link #accumulateGradients} returned, once the caller no
     * longer reads them (after the optimizer step, after the exchange has copied them): the backend may reuse their memory for the next call's gradients.
     * Default: nothing (they are garbage-collected).
     */
    default void recycle(Map<String, INDArray> gradients) {
    }

    /** The gradients of {@code loss} (name → new array, in {@link #parameterNames()} order). */
    default Map<String, INDArray> gradients(Map<String, INDArray> inputs, String loss) {
        return lossAndGradients(inputs, loss).gradients();
    }

    /** Loads weights strictly (see {@link NamedWeights#load}); {@code prefix} may be "" or e.g. {@code "unet."}. */
    default void load(Map<String, INDArray> weights, String prefix, String source) {
        NamedWeights.load(this, weights, prefix, source);
    }

    /** Copies of all parameters under their PyTorch names, cast to {@code dtype} (FLOAT, HALF or BFLOAT16). */
    default Map<String, INDArray> export(DataType dtype) {
        return NamedWeights.export(this, dtype);
    }

    /** Makes the network frozen: no gradients, forward only (the TAESD encoder/decoder during UNet training). */
    void freeze();

    /**
     * Frees the parameters' native memory now instead of at garbage collection (a driver that needs a network only
     * for a moment); the network must not be used afterwards.
     */
    default void release() {
        for (INDArray a : parameters().values()) if (a.closeable()) a.close();
    }
}
