package dev.avatartrain.models.nn;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A network as the training engine sees it: a SameDiff graph whose trainable variables carry PyTorch
 * names. Parameter arrays returned here are the graph's own (views, not copies): writing into them
 * changes the network.
 */
public interface Network {
    /** The graph; its placeholders and outputs are documented by the implementing class. */
    SameDiff graph();

    /** Trainable parameter names (PyTorch names), in a fixed order. */
    List<String> parameterNames();

    /** name → the graph's live parameter array, in {@link #parameterNames()} order. */
    default Map<String, INDArray> parameters() {
        Map<String, INDArray> out = new LinkedHashMap<>();
        for (String n : parameterNames()) {
            out.put(n, graph().getVariable(n).getArr());
        }
        return out;
    }

    /**
     * Gradients of the scalar {@code loss} output with respect to every trainable parameter, for one batch
     * given as placeholder values. Returns name → new array.
     */
    default Map<String, INDArray> gradients(Map<String, INDArray> placeholders, String loss) {
        SameDiff sd = graph();
        useLoss(loss);
        Map<String, INDArray> g = sd.calculateGradients(placeholders, parameterNames());
        Map<String, INDArray> ordered = new LinkedHashMap<>();
        for (String n : parameterNames()) {
            ordered.put(n, g.get(n));
        }
        return ordered;
    }

    /**
     * Makes {@code loss} the graph's loss. SameDiff drops its gradient function whenever the loss variables are set,
     * and rebuilding it is costly, so this sets them only when they differ.
     */
    default void useLoss(String loss) {
        List<String> current = graph().getLossVariables();
        if (current == null || current.size() != 1 || !current.get(0).equals(loss)) {
            graph().setLossVariables(loss);
        }
    }

    /** A loss value and the gradients of every trainable parameter, by name in {@link #parameterNames()} order. */
    record LossAndGradients(double loss, Map<String, INDArray> gradients) {}

    /** The scalar {@code loss} and its gradients for one batch in one pass (what a training step needs). */
    default LossAndGradients lossAndGradients(Map<String, INDArray> placeholders, String loss) {
        useLoss(loss);
        org.nd4j.autodiff.samediff.api.OutAndGrad r = graph().calculateGradientsAndOutputs(placeholders, List.of(loss), parameterNames());
        Map<String, INDArray> ordered = new LinkedHashMap<>();
        for (String n : parameterNames()) {
            ordered.put(n, r.getGradients().get(n));
        }
        return new LossAndGradients(r.getOutputs().get(loss).getDouble(0), ordered);
    }

    /** Runs the graph forward and returns the named outputs. */
    default Map<String, INDArray> forward(Map<String, INDArray> placeholders, String... outputs) {
        return graph().output(placeholders, outputs);
    }

    /** Loads weights strictly (see {@link NamedWeights#load}); {@code prefix} may be "" or e.g. {@code "unet."}. */
    default void load(Map<String, INDArray> weights, String prefix, String source) {
        NamedWeights.load(this, weights, prefix, source);
    }

    /** Copies of all parameters under their PyTorch names, cast to {@code dtype} (FLOAT, HALF or BFLOAT16). */
    default Map<String, INDArray> export(DataType dtype) {
        return NamedWeights.export(this, dtype);
    }

    /**
     * Turns every parameter into a constant: the network is frozen (no gradients, no updater state). Used for
     * the TAESD encoder/decoder during UNet training.
     */
    default void freeze() {
        List<SDVariable> vars = new ArrayList<>();
        for (String n : parameterNames()) {
            SDVariable v = graph().getVariable(n);
            if (v.getVariableType() == org.nd4j.autodiff.samediff.VariableType.VARIABLE) {
                vars.add(v);
            }
        }
        if (!vars.isEmpty()) {
            graph().convertToConstants(vars);
        }
    }
}
