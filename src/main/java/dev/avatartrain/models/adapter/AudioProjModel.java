package dev.avatartrain.models.adapter;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.models.nn.GraphBuilder;
import dev.avatartrain.models.nn.Network;
import org.nd4j.autodiff.samediff.SDIndex;
import org.nd4j.autodiff.samediff.SDVariable;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * InfiniteTalk's {@code AudioProjModel} ({@code wan/modules/multitalk_model.py}) as a SameDiff graph with its
 * PyTorch parameter names: {@code proj1}, {@code proj1_vf}, {@code proj2}, {@code proj3} ({@code .weight [out, in]},
 * {@code .bias}) and, when {@link AudioProjConfig#normOutputAudio()}, the LayerNorm {@code norm.weight},
 * {@code norm.bias}. In InfiniteTalk the module is {@code audio_proj} of the Wan model, so released weights carry
 * the prefix {@code audio_proj.} ({@link #prefixOf}).
 *
 * <p>Computation, as the original: the first frame's window {@code [B, 1, w, L, C]} is flattened to
 * {@code w·L·C} and goes through relu(proj1); every later group's window {@code [B, n, w+vs-1, L, C]} through
 * relu(proj1_vf); the two are concatenated on frames, then relu(proj2), proj3 to {@code tokens × dim}, norm.
 *
 * <p>Placeholders: {@link #AUDIO_EMBEDS} {@code [B, 1, w, L, C]}, {@link #AUDIO_EMBEDS_VF}
 * {@code [B, N-1, w+vs-1, L, C]} (see {@link AudioWindows}). Output: {@link #OUT} {@code [B, N, tokens, dim]}.
 * Training: {@link #TARGET} {@code [B, N, tokens, dim]}, {@link #MASK} {@code [B, N]} (1 = real frame, 0 =
 * padding), {@link #WEIGHT} {@code [B]} and the scalar {@link #LOSS}
 * {@code Σ_b Σ_f weight_b·mask_bf·mean_{tokens,dim}(out - target)² / max(1, Σ mask)} — {@code F.mse_loss} when
 * every mask and weight is 1, and each example's contribution multiplied by its weight.
 * {@link #placeholders(AudioWindows.Batch)} builds the map from a batch.
 */
public final class AudioProjModel implements Network {
    public static final String AUDIO_EMBEDS = "audio_embeds";
    public static final String AUDIO_EMBEDS_VF = "audio_embeds_vf";
    public static final String OUT = "out";
    public static final String TARGET = "target";
    public static final String MASK = "mask";
    public static final String WEIGHT = "weight";
    public static final String LOSS = "loss";
    /** The module name of the adapter inside InfiniteTalk's Wan model. */
    public static final String INFINITETALK_PREFIX = "audio_proj.";

    private final AudioProjConfig config;
    private final GraphBuilder g;
    private final SameDiff sd;
    private final List<String> parameterNames;
    private final FusedAdapter fused;
    private boolean useGraph;

    private AudioProjModel(AudioProjConfig config, DataType dtype, long seed) {
        this.config = config;
        this.g = new GraphBuilder(dtype, seed);
        this.sd = g.sd();
        build();
        this.parameterNames = g.parameterNames();
        this.fused = new FusedAdapter(config);
    }

    /** Builds the graph with PyTorch-default random initialisation from {@code seed} (FLOAT or DOUBLE). */
    public static AudioProjModel build(AudioProjConfig config, DataType dtype, long seed) {
        return new AudioProjModel(config, dtype, seed);
    }

    public AudioProjConfig config() {
        return config;
    }

    public DataType dataType() {
        return g.dataType();
    }

    @Override
    public SameDiff graph() {
        return sd;
    }

    @Override
    public List<String> parameterNames() {
        return parameterNames;
    }

    /**
     * {@link #forward} of {@link #OUT}/{@link #LOSS} and {@link #gradients} of {@link #LOSS} normally run a
     * hand-written pass over the same parameters ({@code FusedAdapter}: GEMMs with transpose flags, several times
     * faster than SameDiff's {@code mmul} backward on these shapes); {@code true} runs the SameDiff graph instead.
     * Both compute the same function (tested against each other and against PyTorch).
     */
    public AudioProjModel useGraph(boolean graph) {
        this.useGraph = graph;
        return this;
    }

    @Override
    public Map<String, INDArray> gradients(Map<String, INDArray> placeholders, String loss) {
        if (useGraph || !LOSS.equals(loss)) {
            return Network.super.gradients(placeholders, loss);
        }
        requireTraining(placeholders);
        return fused.run(placeholders, parameters(), true, true).gradients();
    }

    @Override
    public LossAndGradients lossAndGradients(Map<String, INDArray> placeholders, String loss) {
        if (useGraph || !LOSS.equals(loss)) {
            return Network.super.lossAndGradients(placeholders, loss);
        }
        requireTraining(placeholders);
        FusedAdapter.Result r = fused.run(placeholders, parameters(), true, true);
        return new LossAndGradients(r.loss(), r.gradients());
    }

    @Override
    public Map<String, INDArray> forward(Map<String, INDArray> placeholders, String... outputs) {
        boolean loss = false;
        for (String o : outputs) {
            if (o.equals(LOSS)) {
                loss = true;
            } else if (!o.equals(OUT)) {
                return Network.super.forward(placeholders, outputs);
            }
        }
        if (useGraph) {
            return Network.super.forward(placeholders, outputs);
        }
        if (loss) {
            requireTraining(placeholders);
        }
        FusedAdapter.Result r = fused.run(placeholders, parameters(), loss, false);
        Map<String, INDArray> m = new HashMap<>();
        for (String o : outputs) {
            m.put(o, o.equals(OUT) ? r.out() : Nd4j.scalar(g.dataType(), r.loss()));
        }
        return m;
    }

    private static void requireTraining(Map<String, INDArray> ph) {
        for (String k : new String[] {AUDIO_EMBEDS, AUDIO_EMBEDS_VF, TARGET, MASK, WEIGHT}) {
            if (!ph.containsKey(k)) {
                throw new IllegalArgumentException("the adapter's loss needs the placeholder \"" + k + "\"");
            }
        }
    }

    /** {@code "audio_proj."} when the weights use InfiniteTalk's module name, else "". */
    public static String prefixOf(Map<String, INDArray> weights) {
        return weights.containsKey(INFINITETALK_PREFIX + "proj1.weight") ? INFINITETALK_PREFIX : "";
    }

    /** Loads weights with or without the {@code audio_proj.} prefix (strict; see {@link Network#load}). */
    public void load(Map<String, INDArray> weights, String source) {
        load(weights, prefixOf(weights), source);
    }

    /**
     * Copies of all parameters under their PyTorch names preceded by {@code prefix} ("" or {@code "audio_proj."}),
     * cast to {@code dtype} (FLOAT, HALF or BFLOAT16): what InfiniteTalk's {@code load_state_dict} reads.
     */
    public Map<String, INDArray> export(DataType dtype, String prefix) {
        Map<String, INDArray> out = new java.util.LinkedHashMap<>();
        export(dtype).forEach((k, v) -> out.put(prefix + k, v));
        return out;
    }

    /** Tokens {@code [N, tokens, dim]} of one clip {@code audio [T, L, C]} (padded if T ≠ 1 + k·vae_scale). */
    public INDArray forward(INDArray audio) {
        AudioWindows.Batch b = AudioWindows.batch(List.of(audio), null, null, config, g.dataType());
        INDArray out = forward(placeholders(b), OUT).get(OUT);
        return out.get(NDArrayIndex.point(0), NDArrayIndex.interval(0, b.frames()[0])).dup();
    }

    /** The forward inputs (shapes checked, converted to the graph's type). */
    public Map<String, INDArray> placeholders(INDArray audioEmbeds, INDArray audioEmbedsVf) {
        AudioProjConfig c = config;
        long[] s = audioEmbeds.shape();
        if (s.length != 5 || s[1] != 1 || s[2] != c.audioWindow() || s[3] != c.blocks() || s[4] != c.channels()) {
            throw new BadInputException("adapter input \"" + AUDIO_EMBEDS + "\" has shape " + Arrays.toString(s)
                    + "; expected [B, 1, " + c.audioWindow() + ", " + c.blocks() + ", " + c.channels() + "].");
        }
        long[] v = audioEmbedsVf.shape();
        if (v.length != 5 || v[0] != s[0] || v[1] < 1 || v[2] != c.windowVf() || v[3] != c.blocks()
                || v[4] != c.channels()) {
            throw new BadInputException("adapter input \"" + AUDIO_EMBEDS_VF + "\" has shape " + Arrays.toString(v)
                    + "; expected [" + s[0] + ", n >= 1, " + c.windowVf() + ", " + c.blocks() + ", " + c.channels()
                    + "].");
        }
        DataType dt = g.dataType();
        Map<String, INDArray> m = new HashMap<>();
        m.put(AUDIO_EMBEDS, audioEmbeds.castTo(dt));
        m.put(AUDIO_EMBEDS_VF, audioEmbedsVf.castTo(dt));
        return m;
    }

    /** All placeholders of a batch; the training ones ({@code target}, {@code mask}, {@code weight}) if it has a target. */
    public Map<String, INDArray> placeholders(AudioWindows.Batch b) {
        Map<String, INDArray> m = placeholders(b.first(), b.later());
        if (b.target() != null) {
            DataType dt = g.dataType();
            m.put(TARGET, b.target().castTo(dt));
            m.put(MASK, b.mask().castTo(dt));
            m.put(WEIGHT, b.weight().castTo(dt));
        }
        return m;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Graph

    private void build() {
        AudioProjConfig c = config;
        int inter = c.intermediateDim();
        int tokens = c.contextTokens();
        int dim = c.outputDim();
        SDVariable first = g.input(AUDIO_EMBEDS, -1, 1, c.audioWindow(), c.blocks(), c.channels());
        SDVariable later = g.input(AUDIO_EMBEDS_VF, -1, -1, c.windowVf(), c.blocks(), c.channels());

        SDVariable batch = later.shape().get(SDIndex.interval(0, 1)); // [B]
        SDVariable x1 = first.reshape(-1, c.inputDim());
        SDVariable xv = later.reshape(-1, c.inputDimVf());
        SDVariable h1 = g.relu(g.linear("proj1", x1, (int) c.inputDim(), inter, true));
        SDVariable hv = g.relu(g.linear("proj1_vf", xv, (int) c.inputDimVf(), inter, true));
        SDVariable bfi = sd.concat(0, batch, sd.constant(Nd4j.createFromArray(-1L, inter)));
        SDVariable h = sd.concat(1, sd.reshape(h1, bfi), sd.reshape(hv, bfi)); // [B, N, inter]
        h = h.reshape(-1, inter);
        h = g.relu(g.linear("proj2", h, inter, inter, true));
        SDVariable t = g.linear("proj3", h, inter, tokens * dim, true).reshape(-1, tokens, dim);
        if (c.normOutputAudio()) {
            t = g.layerNorm("norm", t, dim, AudioProjConfig.NORM_EPS, true);
        }
        SDVariable outShape = sd.concat(0, batch, sd.constant(Nd4j.createFromArray(-1L, tokens, dim)));
        SDVariable out = sd.reshape(t, outShape).rename(OUT);

        SDVariable target = g.input(TARGET, -1, -1, tokens, dim);
        SDVariable mask = g.input(MASK, -1, -1);
        SDVariable weight = g.input(WEIGHT, -1);
        SDVariable d = out.sub(target);
        SDVariable perFrame = d.mul(d).mean(2, 3); // [B, N]
        SDVariable weighted = perFrame.mul(mask).mul(weight.reshape(-1, 1)).sum();
        SDVariable count = sd.math().max(mask.sum(), sd.constant(Nd4j.scalar(g.dataType(), 1.0)));
        weighted.div(count).rename(LOSS);
    }
}
