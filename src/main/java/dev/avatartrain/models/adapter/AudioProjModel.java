package dev.avatartrain.models.adapter;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.models.nn.Backend;
import dev.avatartrain.models.nn.DefinedNetwork;
import dev.avatartrain.models.nn.Definition;
import dev.avatartrain.models.nn.Ops;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * InfiniteTalk's {@code AudioProjModel} ({@code wan/modules/multitalk_model.py}) with its PyTorch parameter names,
 * defined once ({@link Forward}) and run on the {@link Backend} chosen when it is built: {@code proj1}, {@code proj1_vf}, {@code proj2}, {@code proj3} ({@code .weight [out, in]},
 * {@code .bias}) and, when {@link AudioProjConfig#normOutputAudio()}, the LayerNorm {@code norm.weight},
 * {@code norm.bias}. In InfiniteTalk the module is {@code audio_proj} of the Wan model, so released weights carry
 * the prefix {@code audio_proj.} ({@link #prefixOf}).
 *
 * <p>Computation, as the original: the first frame's window {@code [B, 1, w, L, C]} is flattened to
 * {@code w·L·C} and goes through relu(proj1); every later group's window {@code [B, n, w+vs-1, L, C]} through
 * relu(proj1_vf); the two are concatenated on frames, then relu(proj2), proj3 to {@code tokens × dim}, norm.
 *
 * <p>Inputs: {@link #AUDIO_EMBEDS} {@code [B, 1, w, L, C]}, {@link #AUDIO_EMBEDS_VF}
 * {@code [B, N-1, w+vs-1, L, C]} (see {@link AudioWindows}). Output: {@link #OUT} {@code [B, N, tokens, dim]}.
 * Training: {@link #TARGET} {@code [B, N, tokens, dim]}, {@link #MASK} {@code [B, N]} (1 = real frame, 0 =
 * padding), {@link #WEIGHT} {@code [B]} and the scalar {@link #LOSS}
 * {@code Σ_b Σ_f weight_b·mask_bf·mean_{tokens,dim}(out - target)² / max(1, Σ mask)} — {@code F.mse_loss} when
 * every mask and weight is 1, and each example's contribution multiplied by its weight.
 * {@link #placeholders(AudioWindows.Batch)} builds the map from a batch.
 */
public final class AudioProjModel extends DefinedNetwork {
    /** The adapter's weights in a folder or repo, in the order looked for: train-adapter's export, InfiniteTalk's. */
    public static final List<String> WEIGHTS_FILES = List.of("adapter.safetensors", "single/infinitetalk.safetensors");
    public static final String AUDIO_EMBEDS = "audio_embeds";
    public static final String AUDIO_EMBEDS_VF = "audio_embeds_vf";
    public static final String OUT = "out";
    public static final String TARGET = "target";
    public static final String MASK = "mask";
    public static final String WEIGHT = "weight";
    public static final String LOSS = "loss";
    /** The module name of the adapter inside InfiniteTalk's Wan model. */
    public static final String INFINITETALK_PREFIX = "audio_proj.";
    /** {@code mask_bf · weight_b / max(1, Σ mask)}: what the loss weighs each frame's error by (made from the above). */
    static final String FRAME_WEIGHTS = "frame_weights";

    private final AudioProjConfig config;

    private AudioProjModel(AudioProjConfig config, DataType dtype, long seed, Backend backend) {
        super("adapter", new Forward(config), dtype, seed, backend);
        this.config = config;
    }

    /** An adapter with PyTorch-default random initialisation from {@code seed}, on the default backend for {@code dtype}. */
    public static AudioProjModel build(AudioProjConfig config, DataType dtype, long seed) {
        return build(config, dtype, seed, Backend.defaultFor(dtype));
    }

    /** An adapter with PyTorch-default random initialisation from {@code seed} (FLOAT or DOUBLE), on {@code backend}. */
    public static AudioProjModel build(AudioProjConfig config, DataType dtype, long seed, Backend backend) {
        return new AudioProjModel(config, dtype, seed, backend);
    }

    public AudioProjConfig config() {
        return config;
    }

    /** Adds {@link #FRAME_WEIGHTS} for a loss, which needs {@link #TARGET}, {@link #MASK} and {@link #WEIGHT}. */
    @Override
    protected Map<String, INDArray> prepare(Map<String, INDArray> ph, boolean forLoss) {
        if (!forLoss) {
            return ph;
        }
        for (String k : new String[] {AUDIO_EMBEDS, AUDIO_EMBEDS_VF, TARGET, MASK, WEIGHT}) {
            if (!ph.containsKey(k)) {
                throw new IllegalArgumentException("the adapter's loss needs the input \"" + k + "\"");
            }
        }
        INDArray mask = ph.get(MASK).castTo(dataType());
        INDArray weight = ph.get(WEIGHT).castTo(dataType());
        double count = Math.max(1.0, mask.sumNumber().doubleValue());
        Map<String, INDArray> m = new HashMap<>(ph);
        m.put(FRAME_WEIGHTS, mask.mulColumnVector(weight.reshape(weight.length(), 1)).divi(count));
        return m;
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
        AudioWindows.Batch b = AudioWindows.batch(List.of(audio), null, null, config, dataType());
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
        DataType dt = dataType();
        Map<String, INDArray> m = new HashMap<>();
        m.put(AUDIO_EMBEDS, audioEmbeds.castTo(dt));
        m.put(AUDIO_EMBEDS_VF, audioEmbedsVf.castTo(dt));
        return m;
    }

    /** All placeholders of a batch; the training ones ({@code target}, {@code mask}, {@code weight}) if it has a target. */
    public Map<String, INDArray> placeholders(AudioWindows.Batch b) {
        Map<String, INDArray> m = placeholders(b.first(), b.later());
        if (b.target() != null) {
            DataType dt = dataType();
            m.put(TARGET, b.target().castTo(dt));
            m.put(MASK, b.mask().castTo(dt));
            m.put(WEIGHT, b.weight().castTo(dt));
        }
        return m;
    }

    /** The network, written once against {@link Ops}. */
    private static final class Forward implements Definition {
        private final AudioProjConfig c;

        Forward(AudioProjConfig config) {
            this.c = config;
        }

        @Override
        public String output() {
            return OUT;
        }

        @Override
        public List<String> losses() {
            return List.of(LOSS);
        }

        @Override
        public <T> T forward(Ops<T> nn) {
            int inter = c.intermediateDim();
            int tokens = c.contextTokens();
            T first = nn.input(AUDIO_EMBEDS, -1, 1, c.audioWindow(), c.blocks(), c.channels());
            T later = nn.input(AUDIO_EMBEDS_VF, -1, -1, c.windowVf(), c.blocks(), c.channels());
            // each projection a checkpoint block (gradient checkpointing keeps only its input)
            T h1 = nn.checkpoint(List.of(first), v -> nn.relu(nn.linear("proj1", nn.flatten(v.get(0), 2),
                    (int) c.inputDim(), inter, true))); // [B, 1, inter]
            T hv = nn.checkpoint(List.of(later), v -> nn.relu(nn.linear("proj1_vf", nn.flatten(v.get(0), 2),
                    (int) c.inputDimVf(), inter, true)));
            T h = nn.checkpoint(List.of(h1, hv), v -> nn.relu(nn.linear("proj2", nn.concat(1, v.get(0), v.get(1)),
                    inter, inter, true))); // [B, N, inter]
            return nn.checkpoint(List.of(h), v -> {
                T y = nn.splitLast(nn.linear("proj3", v.get(0), inter, tokens * c.outputDim(), true), tokens);
                return c.normOutputAudio() ? nn.layerNorm("norm", y, c.outputDim(), AudioProjConfig.NORM_EPS) : y;
            });
        }

        @Override
        public <T> T loss(Ops<T> nn, String name, T out) {
            T target = nn.input(TARGET, -1, -1, c.contextTokens(), c.outputDim());
            return nn.rowWeightedMse(out, target, nn.input(FRAME_WEIGHTS, -1, -1));
        }
    }
}
