package dev.avatartrain.models.nn;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.models.kernels.Activation;
import dev.avatartrain.models.kernels.Layers;
import dev.avatartrain.models.kernels.Tape;
import dev.avatartrain.models.kernels.Tape.Var;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link Ops} on the hand-written kernels ({@link Layers}), recorded on a {@link Tape}: one instance per pass, over
 * the given input arrays and the network's live parameters (float32). Kernels that work on rows ({@code [rows,
 * features]}) see tokens {@code [B, n, features]} through free reshapes.
 */
final class TapeOps implements Ops<Var> {
    /** The pass's tape; parameters are variables of it. */
    private final Tape root;
    /** Where operations record: the pass's tape, or a checkpointed block's own while it runs. */
    private Tape tape;
    private final Parameters parameters;
    private final Map<String, INDArray> inputs;
    private final boolean trainable;
    private final boolean checkpointing;
    /** Where parameters' gradients are added in place (gradient accumulation), or null. */
    private Map<String, INDArray> gradientSums;
    private final String network;
    private final Map<String, Var> params = new HashMap<>();
    private final Map<String, Var> given = new HashMap<>();

    /**
     * @param trainable     whether parameters collect gradients (false for a frozen network)
     * @param checkpointing whether {@link #checkpoint} blocks keep only their inputs and run again in the backward pass
     * @param network       the network's name, for the message when an input is missing
     */
    TapeOps(Tape tape, Parameters parameters, Map<String, INDArray> inputs, boolean trainable, boolean checkpointing,
            String network) {
        this.root = tape;
        this.tape = tape;
        this.parameters = parameters;
        this.inputs = inputs;
        this.trainable = trainable;
        this.checkpointing = checkpointing;
        this.network = network;
    }

    /** Makes parameters' gradients add into {@code sums} (same names and shapes) instead of new arrays. */
    void accumulateInto(Map<String, INDArray> sums) {
        gradientSums = sums;
    }

    /** The parameter variables this pass used (their gradients after {@link Tape#backward}). */
    Map<String, Var> usedParameters() {
        return params;
    }

    @Override
    public Var input(String name, long... shape) {
        return given.computeIfAbsent(name, n -> {
            INDArray a = inputs.get(n);
            if (a == null) {
                throw new BadInputException("the " + network + " needs the input \"" + n + "\" "
                        + Arrays.toString(shape).replace("-1", "?") + "; it was not given.");
            }
            return tape.constant(a.dataType() == DataType.FLOAT ? a : a.castTo(DataType.FLOAT));
        });
    }

    @Override
    public Var parameter(String name) {
        return params.computeIfAbsent(name, n -> {
            INDArray a = parameters.get(n);
            if (!trainable) {
                return root.constant(a);
            }
            return gradientSums == null ? root.parameter(a) : root.parameter(a, gradientSums.get(n));
        });
    }

    @Override
    public Parameters parameters() {
        return parameters;
    }

    /** {@link Tape#checkpoint} when checkpointing is on: the block's operations record on the tape it is given. */
    @Override
    public Var checkpoint(List<Var> blockInputs, Function<List<Var>, Var> block) {
        if (!checkpointing) {
            return block.apply(blockInputs);
        }
        return tape.checkpoint(blockInputs.toArray(Var[]::new), (t, in) -> {
            Tape outer = tape;
            tape = t;
            try {
                return block.apply(List.of(in));
            } finally {
                tape = outer;
            }
        });
    }

    @Override
    public Var conv2d(Var x, Var w, Var b, int stride, int pad) {
        return Layers.conv2d(tape, x, w, b, stride, pad);
    }

    @Override
    public Var linear(Var x, Var w, Var b) {
        long[] s = x.value().shape().clone(); // shape() may be the array's own
        if (s.length == 2) {
            return Layers.linear(tape, x, w, b);
        }
        long in = s[s.length - 1];
        Var y = Layers.linear(tape, Layers.reshape(tape, x, x.value().length() / in, in), w, b);
        s[s.length - 1] = w.value().size(0);
        return Layers.reshape(tape, y, s);
    }

    @Override
    public Var groupNorm(Var x, Var gamma, Var beta, int groups, double eps, Activation act) {
        return Layers.groupNorm(tape, x, gamma, beta, groups, eps, act);
    }

    @Override
    public Var layerNorm(Var x, Var gamma, Var beta, double eps) {
        return Layers.layerNorm(tape, x, gamma, beta, eps);
    }

    @Override
    public Var activation(Var x, Activation act) {
        return Layers.activation(tape, x, act);
    }

    @Override
    public Var geglu(Var proj, int hidden) {
        long[] s = proj.value().shape().clone();
        Var rows = Layers.reshape(tape, proj, proj.value().length() / (2L * hidden), 2L * hidden);
        s[s.length - 1] = hidden;
        return Layers.reshape(tape, Layers.geglu(tape, rows), s);
    }

    @Override
    public Var attention(Var q, Var k, Var v, int heads, int headDim) {
        long[] s = q.value().shape();
        Var o = Layers.attention(tape, rows(q), rows(k), rows(v), (int) s[0], heads);
        return Layers.reshape(tape, o, s);
    }

    /** {@code [B, n, f] -> [B·n, f]}. */
    private Var rows(Var x) {
        long f = x.value().size(x.value().rank() - 1);
        return Layers.reshape(tape, x, x.value().length() / f, f);
    }

    @Override
    public Var add(Var a, Var b) {
        return Layers.add(tape, a, b);
    }

    @Override
    public Var affine(Var x, double a, double b) {
        return Layers.affine(tape, x, a, b);
    }

    @Override
    public Var addPerChannel(Var h, Var t) {
        return Layers.addPerChannel(tape, h, t);
    }

    @Override
    public Var concat(int axis, Var a, Var b) {
        return Layers.concat(tape, axis, a, b);
    }

    @Override
    public Var padBottomRight(Var x) {
        return Layers.padBottomRight(tape, x);
    }

    @Override
    public Var upsample2x(Var x) {
        return Layers.upsample2x(tape, x);
    }

    @Override
    public Var toTokens(Var x) {
        long[] s = x.value().shape();
        return Layers.reshape(tape, Layers.toTokens(tape, x), s[0], s[2] * s[3], s[1]);
    }

    @Override
    public Var fromTokens(Var tokens, Var like) {
        long[] s = like.value().shape();
        return Layers.fromTokens(tape, rows(tokens), (int) s[0], (int) s[2], (int) s[3]);
    }

    @Override
    public Var flatten(Var x, int axis) {
        long[] s = Arrays.copyOf(x.value().shape(), axis + 1);
        s[axis] = 1;
        s[axis] = x.value().length() / Arrays.stream(s).reduce(1, (p, q) -> p * q);
        return Layers.reshape(tape, x, s);
    }

    @Override
    public Var splitLast(Var x, int parts) {
        long[] s = x.value().shape();
        long[] out = Arrays.copyOf(s, s.length + 1);
        out[s.length - 1] = parts;
        out[s.length] = s[s.length - 1] / parts;
        return Layers.reshape(tape, x, out);
    }

    /** Computed on the host: the timesteps are data, so the embedding needs no gradient. */
    @Override
    public Var timestepEmbedding(Var t, int dim, double shift, boolean flipSinToCos) {
        int half = dim / 2;
        float logPeriod = (float) -Math.log(10000);
        float denom = (float) (half - shift);
        float[] ts = t.value().castTo(DataType.FLOAT).toFloatVector();
        float[][] emb = new float[ts.length][dim];
        for (int i = 0; i < half; i++) {
            float f = (float) Math.exp((logPeriod * i) / denom);
            for (int r = 0; r < ts.length; r++) {
                float arg = ts[r] * f;
                float sin = (float) Math.sin(arg);
                float cos = (float) Math.cos(arg);
                emb[r][i] = flipSinToCos ? cos : sin;
                emb[r][half + i] = flipSinToCos ? sin : cos;
            }
        }
        return tape.constant(Nd4j.createFromArray(emb)); // an odd dim's last column stays 0
    }

    @Override
    public Var tanhClamp(Var x, double limit) {
        return Layers.tanhClamp(tape, x, limit);
    }

    @Override
    public Var mseLoss(Var out, Var target) {
        return Layers.mseLoss(tape, out, target);
    }

    @Override
    public Var l1Loss(Var out, Var target) {
        return Layers.l1Loss(tape, out, target);
    }

    @Override
    public Var rowWeightedMse(Var out, Var target, Var w) {
        return Layers.rowWeightedMse(tape, out, target, w);
    }
}
