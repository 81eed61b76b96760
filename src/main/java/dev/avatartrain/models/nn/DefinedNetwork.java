package dev.avatartrain.models.nn;

import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;

import dev.avatartrain.models.kernels.Tape;
import dev.avatartrain.models.kernels.Tape.Var;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.VariableType;
import org.nd4j.autodiff.samediff.api.OutAndGrad;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A {@link Network} from its {@link Definition}: the definition runs once at construction to declare the parameters
 * (PyTorch names and initialisation), then on the backend chosen there — on a new {@link Tape} per call, or as a
 * SameDiff graph built once, only for {@link Backend#GRAPH}. Subclasses add the network's own entry points and may
 * derive inputs from the given ones ({@link #prepare}).
 */
public class DefinedNetwork implements Network {
    private final Definition definition;
    private final Backend backend;
    private final String name;
    private final Parameters parameters;
    private final List<String> parameterNames;
    private final SameDiff graph;
    private boolean frozen;
    private boolean checkpointing;

    /**
     * @param name a short description for messages (e.g. "UNet")
     * @param dtype FLOAT or DOUBLE: the parameters' and activations' type
     * @param seed  of the parameters' initialisation
     */
    protected DefinedNetwork(String name, Definition definition, DataType dtype, long seed, Backend backend) {
        backend.check(dtype);
        this.name = name;
        this.definition = definition;
        this.backend = backend;
        this.parameters = new Parameters(dtype, seed);
        Declaration declaration = new Declaration(parameters);
        Object out = definition.forward(declaration);
        for (String loss : definition.losses()) {
            definition.loss(declaration, loss, out);
        }
        parameters.seal();
        this.parameterNames = List.copyOf(parameters.asMap().keySet());
        this.graph = backend == Backend.GRAPH ? buildGraph() : null;
    }

    private SameDiff buildGraph() {
        SameDiff sd = SameDiff.create();
        GraphOps ops = new GraphOps(sd, parameters);
        SDVariable out = definition.forward(ops).rename(definition.output());
        for (String loss : definition.losses()) {
            definition.loss(ops, loss, out).rename(loss);
        }
        for (String n : parameterNames) {
            parameters.rebind(n, ops.array(n));
        }
        return sd;
    }

    @Override
    public final List<String> parameterNames() {
        return parameterNames;
    }

    @Override
    public final Map<String, INDArray> parameters() {
        return parameters.asMap();
    }

    @Override
    public final Backend backend() {
        return backend;
    }

    /**
     * Gradient checkpointing ({@code gradient_checkpointing}): the definition's {@link Ops#checkpoint} blocks keep
     * only their inputs during {@link #lossAndGradients} and run again in its backward pass, on the backends that
     * implement it ({@link Backend#TAPE}); the others run the blocks directly. Off by default.
     */
    public final void gradientCheckpointing(boolean on) {
        checkpointing = on;
    }

    /** Whether gradient checkpointing is on (see {@link #gradientCheckpointing(boolean)}). */
    public final boolean gradientCheckpointing() {
        return checkpointing;
    }

    public final DataType dataType() {
        return parameters.dataType();
    }

    /** The definition and parameter set, for a backend outside this package (models.cuda) to run them. */
    public record Parts(Definition definition, Parameters parameters) {}

    public final Parts parts() {
        return new Parts(definition, parameters);
    }

    /** The inputs the definition reads, derived from {@code inputs} as this network's own passes derive them. */
    public final Map<String, INDArray> feed(Map<String, INDArray> inputs, boolean forLoss) {
        return prepare(inputs, forLoss);
    }

    /**
     * The inputs the definition reads, from those a caller gives ({@code forLoss}: a loss will be computed). By
     * default the same map.
     */
    protected Map<String, INDArray> prepare(Map<String, INDArray> inputs, boolean forLoss) {
        return inputs;
    }

    @Override
    public final Map<String, INDArray> forward(Map<String, INDArray> inputs, String... outputs) {
        boolean loss = false;
        for (String o : outputs) {
            if (definition.losses().contains(o)) {
                loss = true;
            } else if (!o.equals(definition.output())) {
                throw new IllegalArgumentException("the " + name + " has no output \"" + o + "\"; it has "
                        + definition.output() + " and the losses " + definition.losses());
            }
        }
        Map<String, INDArray> feed = prepare(inputs, loss);
        if (graph != null) {
            return graph.output(placeholders(feed), outputs);
        }
        TapeOps ops = new TapeOps(new Tape(false), parameters, feed, false, false, name);
        Var out = definition.forward(ops);
        Map<String, INDArray> result = new HashMap<>();
        for (String o : outputs) {
            result.put(o, o.equals(definition.output()) ? out.value() : definition.loss(ops, o, out).value());
        }
        return result;
    }

    @Override
    public final LossAndGradients lossAndGradients(Map<String, INDArray> inputs, String loss) {
        return lossAndGradients(inputs, loss, (BiConsumer<String, INDArray>) null);
    }

    @Override
    public final LossAndGradients lossAndGradients(Map<String, INDArray> inputs, String loss,
                                                   BiConsumer<String, INDArray> gradientFinal) {
        if (frozen) {
            throw new IllegalStateException("the " + name + " is frozen: it has no gradients");
        }
        if (!definition.losses().contains(loss)) {
            throw new IllegalArgumentException("the " + name + " has no loss \"" + loss + "\"; it has "
                    + definition.losses());
        }
        Map<String, INDArray> feed = prepare(inputs, true);
        Map<String, INDArray> ordered = new LinkedHashMap<>();
        if (graph != null) {
            useLoss(loss);
            OutAndGrad r = graph.calculateGradientsAndOutputs(placeholders(feed), List.of(loss), parameterNames);
            for (String n : parameterNames) {
                ordered.put(n, r.getGradients().get(n));
            }
            for (int i = parameterNames.size() - 1; gradientFinal != null && i >= 0; i--) {
                gradientFinal.accept(parameterNames.get(i), ordered.get(parameterNames.get(i)));
            }
            return new LossAndGradients(r.getOutputs().get(loss).getDouble(0), ordered);
        }
        double value = tapePass(feed, loss, 1, null, ordered, gradientFinal);
        return new LossAndGradients(value, ordered);
    }

    /** On the tape, the gradients go into {@code sums} in place (no second copy of the gradients); else the default. */
    @Override
    public final double accumulateGradients(Map<String, INDArray> inputs, String loss, double scale,
                                            Map<String, INDArray> sums) {
        if (graph != null || frozen || !definition.losses().contains(loss)) {
            return Network.super.accumulateGradients(inputs, loss, scale, sums);
        }
        return tapePass(prepare(inputs, true), loss, scale, sums.isEmpty() ? null : sums, sums, null);
    }

    /**
     * One pass on a new tape: the loss, and {@code scale} × its gradients put into {@code gradients} by name — new
     * arrays, or, with {@code sums} (the same map), added into those in place. {@code gradientFinal} (may be null) is
     * told each parameter's gradient once it is final, during the backward pass where the tape can say (parameters
     * used inside a checkpointed block are told after the pass), last parameter first for the rest.
     */
    private double tapePass(Map<String, INDArray> feed, String loss, double scale, Map<String, INDArray> sums,
                            Map<String, INDArray> gradients, BiConsumer<String, INDArray> gradientFinal) {
        Tape tape = new Tape(true);
        TapeOps ops = new TapeOps(tape, parameters, feed, true, checkpointing, name);
        if (sums != null) {
            ops.accumulateInto(sums);
        }
        Set<String> told = new HashSet<>();
        if (gradientFinal != null) {
            Map<Var, String> names = new IdentityHashMap<>();
            tape.onGradientFinal(v -> {
                if (names.isEmpty()) {
                    ops.usedParameters().forEach((n, p) -> names.put(p, n));
                }
                String n = names.get(v);
                if (n != null && told.add(n)) {
                    gradientFinal.accept(n, v.grad());
                }
            });
        }
        Var value = definition.loss(ops, loss, definition.forward(ops));
        tape.backward(value, Nd4j.scalar(DataType.FLOAT, (float) scale));
        if (sums == null) {
            Map<String, Var> used = ops.usedParameters();
            for (String n : parameterNames) {
                Var v = used.get(n);
                INDArray g = v == null ? null : v.grad();
                gradients.put(n, g != null ? g : Nd4j.zeros(DataType.FLOAT, parameters.get(n).shape()));
            }
        }
        for (int i = parameterNames.size() - 1; gradientFinal != null && i >= 0; i--) {
            String n = parameterNames.get(i);
            if (!told.contains(n)) {
                gradientFinal.accept(n, gradients.get(n));
            }
        }
        return value.value().getDouble(0);
    }

    /** The tape's gradients go back to the kernels' pool; the graph's arrays are SameDiff's own (left to it). */
    @Override
    public final void recycle(Map<String, INDArray> gradients) {
        if (graph == null) {
            for (INDArray g : gradients.values()) {
                Tape.recycle(g);
            }
        }
    }

    /** The given arrays the graph has placeholders for, in its type. */
    private Map<String, INDArray> placeholders(Map<String, INDArray> feed) {
        Map<String, INDArray> out = new HashMap<>();
        for (String n : graph.inputs()) {
            INDArray a = feed.get(n);
            if (a != null) {
                out.put(n, a.dataType() == dataType() ? a : a.castTo(dataType()));
            }
        }
        return out;
    }

    /**
     * Makes {@code loss} the graph's loss. SameDiff drops its gradient function whenever the loss variables are set,
     * and rebuilding it is costly, so this sets them only when they differ.
     */
    private void useLoss(String loss) {
        List<String> current = graph.getLossVariables();
        if (current == null || current.size() != 1 || !current.get(0).equals(loss)) {
            graph.setLossVariables(loss);
        }
    }

    @Override
    public final void freeze() {
        frozen = true;
        if (graph != null) {
            List<SDVariable> vars = Arrays.stream(graph.variables().toArray(new SDVariable[0]))
                    .filter(v -> v.getVariableType() == VariableType.VARIABLE).toList();
            if (!vars.isEmpty()) {
                graph.convertToConstants(vars);
            }
            for (String n : parameterNames) {
                parameters.rebind(n, graph.getVariable(n).getArr());
            }
        }
    }
}
