package dev.avatartrain.models.unet;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.avatartrain.errors.BadInputException;

/**
 * A diffusers {@code UNet2DConditionModel} configuration (the {@code config.json} diffusers writes), with
 * diffusers 0.27.2's meaning of every key.
 *
 * <p>Supported network keys: {@code in_channels}, {@code out_channels}, {@code block_out_channels},
 * {@code layers_per_block} (int or per-block list), {@code down_block_types} / {@code up_block_types}
 * ({@code CrossAttnDownBlock2D}, {@code DownBlock2D} / {@code CrossAttnUpBlock2D}, {@code UpBlock2D}),
 * {@code mid_block_type} ({@code UNetMidBlock2DCrossAttn} only), {@code cross_attention_dim} (int),
 * {@code attention_head_dim} (int or per-block list), {@code norm_num_groups}, {@code norm_eps},
 * {@code act_fn} ({@code silu}/{@code swish}, {@code gelu}, {@code relu}), {@code flip_sin_to_cos},
 * {@code freq_shift}, {@code use_linear_projection}, {@code downsample_padding}, {@code mid_block_scale_factor},
 * {@code center_input_sample}.
 *
 * <p>diffusers quirk kept on purpose: {@code attention_head_dim} is the <em>number of heads</em> of each
 * block's attention (each head has {@code channels / heads} dimensions). {@code num_attention_heads} must be
 * unset or null: diffusers 0.27 itself refuses a config that sets it.
 *
 * <p>Keys that do not change this network are accepted: {@code sample_size} (the training resolution, kept
 * for reference; inputs of any size divisible by {@link #sizeMultiple()} work), keys starting with
 * {@code _}, {@code upcast_attention} (a no-op in fp32) and keys diffusers reads only for block types this
 * network does not have ({@code resnet_out_scale_factor}, {@code resnet_skip_time_act},
 * {@code cross_attention_norm}, {@code mid_block_only_cross_attention}, {@code addition_embed_type_num_heads}).
 * Every other diffusers key must keep its default; anything else is rejected naming the key and the file.
 */
public record UNetConfig(
        int inChannels,
        int outChannels,
        int[] blockOutChannels,
        int[] layersPerBlock,
        List<String> downBlockTypes,
        List<String> upBlockTypes,
        int crossAttentionDim,
        int[] attentionHeads,
        int normNumGroups,
        double normEps,
        String actFn,
        boolean flipSinToCos,
        double freqShift,
        boolean useLinearProjection,
        int downsamplePadding,
        double midBlockScaleFactor,
        boolean centerInputSample,
        Integer sampleSize) {

    public static final String CROSS_DOWN = "CrossAttnDownBlock2D";
    public static final String DOWN = "DownBlock2D";
    public static final String CROSS_UP = "CrossAttnUpBlock2D";
    public static final String UP = "UpBlock2D";
    public static final String MID = "UNetMidBlock2DCrossAttn";

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Keys that do not change this network (values are not interpreted). */
    private static final Set<String> IGNORED = Set.of("sample_size", "upcast_attention", "resnet_out_scale_factor",
            "resnet_skip_time_act", "cross_attention_norm", "mid_block_only_cross_attention",
            "addition_embed_type_num_heads");

    /** diffusers keys that change the network; only their default (given here as JSON) is supported. */
    private static final Map<String, String> DEFAULT_ONLY = new LinkedHashMap<>();

    static {
        DEFAULT_ONLY.put("num_attention_heads", "null");
        DEFAULT_ONLY.put("only_cross_attention", "false");
        DEFAULT_ONLY.put("dropout", "0.0");
        DEFAULT_ONLY.put("transformer_layers_per_block", "1");
        DEFAULT_ONLY.put("reverse_transformer_layers_per_block", "null");
        DEFAULT_ONLY.put("encoder_hid_dim", "null");
        DEFAULT_ONLY.put("encoder_hid_dim_type", "null");
        DEFAULT_ONLY.put("dual_cross_attention", "false");
        DEFAULT_ONLY.put("class_embed_type", "null");
        DEFAULT_ONLY.put("addition_embed_type", "null");
        DEFAULT_ONLY.put("addition_time_embed_dim", "null");
        DEFAULT_ONLY.put("num_class_embeds", "null");
        DEFAULT_ONLY.put("resnet_time_scale_shift", "\"default\"");
        DEFAULT_ONLY.put("time_embedding_type", "\"positional\"");
        DEFAULT_ONLY.put("time_embedding_dim", "null");
        DEFAULT_ONLY.put("time_embedding_act_fn", "null");
        DEFAULT_ONLY.put("timestep_post_act", "null");
        DEFAULT_ONLY.put("time_cond_proj_dim", "null");
        DEFAULT_ONLY.put("conv_in_kernel", "3");
        DEFAULT_ONLY.put("conv_out_kernel", "3");
        DEFAULT_ONLY.put("projection_class_embeddings_input_dim", "null");
        DEFAULT_ONLY.put("attention_type", "\"default\"");
        DEFAULT_ONLY.put("class_embeddings_concat", "false");
    }

    private static final Set<String> SUPPORTED = Set.of("in_channels", "out_channels", "block_out_channels",
            "layers_per_block", "down_block_types", "up_block_types", "mid_block_type", "cross_attention_dim",
            "attention_head_dim", "norm_num_groups", "norm_eps", "act_fn", "flip_sin_to_cos", "freq_shift",
            "use_linear_projection", "downsample_padding", "mid_block_scale_factor", "center_input_sample");

    /** Defensive copies; validation happens in {@link #parse} where the file name is known. */
    public UNetConfig {
        blockOutChannels = blockOutChannels.clone();
        layersPerBlock = layersPerBlock.clone();
        attentionHeads = attentionHeads.clone();
        downBlockTypes = List.copyOf(downBlockTypes);
        upBlockTypes = List.copyOf(upBlockTypes);
    }

    /** Number of resolution levels ({@code block_out_channels.length}). */
    public int levels() {
        return blockOutChannels.length;
    }

    /** Input height and width must be multiples of this: {@code 2^(levels-1)}. */
    public int sizeMultiple() {
        return 1 << (levels() - 1);
    }

    /** Width of the timestep embedding fed to every ResNet block: {@code 4 * block_out_channels[0]}. */
    public int timeEmbedDim() {
        return 4 * blockOutChannels[0];
    }

    /** Reads and validates a config file. */
    public static UNetConfig read(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (IOException e) {
            throw new BadInputException("Cannot read the UNet config " + file + ": " + e.getMessage(), e);
        }
        return parse(text, file.toString());
    }

    /** Parses and validates config JSON; {@code source} (a file name) is used in error messages. */
    public static UNetConfig parse(String json, String source) {
        JsonNode root;
        try {
            root = JSON.readTree(json);
        } catch (IOException e) {
            throw new BadInputException("The UNet config " + source + " is not valid JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new BadInputException("The UNet config " + source + " must be a JSON object.");
        }
        return new Parser((ObjectNode) root, source).parse();
    }

    /** Writes this configuration as diffusers config JSON (every key diffusers 0.27 needs to rebuild it). */
    public String toJson() {
        ObjectNode o = JSON.createObjectNode();
        o.put("_class_name", "UNet2DConditionModel");
        o.put("_diffusers_version", "0.27.2");
        o.put("act_fn", actFn);
        ArrayNodeHelper.ints(o.putArray("attention_head_dim"), attentionHeads);
        ArrayNodeHelper.ints(o.putArray("block_out_channels"), blockOutChannels);
        o.put("center_input_sample", centerInputSample);
        o.put("cross_attention_dim", crossAttentionDim);
        downBlockTypes.forEach(o.putArray("down_block_types")::add);
        o.put("downsample_padding", downsamplePadding);
        o.put("flip_sin_to_cos", flipSinToCos);
        o.put("freq_shift", freqShift);
        o.put("in_channels", inChannels);
        ArrayNodeHelper.ints(o.putArray("layers_per_block"), layersPerBlock);
        o.put("mid_block_scale_factor", midBlockScaleFactor);
        o.put("mid_block_type", MID);
        o.put("norm_eps", normEps);
        o.put("norm_num_groups", normNumGroups);
        o.put("out_channels", outChannels);
        if (sampleSize != null) {
            o.put("sample_size", sampleSize);
        }
        upBlockTypes.forEach(o.putArray("up_block_types")::add);
        o.put("use_linear_projection", useLinearProjection);
        try {
            return JSON.writerWithDefaultPrettyPrinter().writeValueAsString(o);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static final class ArrayNodeHelper {
        static void ints(com.fasterxml.jackson.databind.node.ArrayNode a, int[] v) {
            for (int x : v) {
                a.add(x);
            }
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof UNetConfig c && toJson().equals(c.toJson());
    }

    @Override
    public int hashCode() {
        return toJson().hashCode();
    }

    @Override
    public String toString() {
        return "UNetConfig" + toJson().replaceAll("\\s+", " ");
    }

    /** Reads one JSON object key by key, naming the file and key in every error. */
    private static final class Parser {
        private final ObjectNode root;
        private final String source;

        Parser(ObjectNode root, String source) {
            this.root = root;
            this.source = source;
        }

        private BadInputException bad(String key, String problem) {
            return new BadInputException("UNet config " + source + ", key \"" + key + "\": " + problem);
        }

        UNetConfig parse() {
            for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
                String key = it.next();
                if (key.startsWith("_") || IGNORED.contains(key) || SUPPORTED.contains(key)) {
                    continue;
                }
                if (DEFAULT_ONLY.containsKey(key)) {
                    checkDefault(key, root.get(key));
                    continue;
                }
                throw bad(key, "not a key of diffusers' UNet2DConditionModel (0.27); remove it or fix its spelling.");
            }
            List<String> down = stringList("down_block_types", List.of(CROSS_DOWN, CROSS_DOWN, CROSS_DOWN, DOWN));
            List<String> up = stringList("up_block_types", List.of(UP, CROSS_UP, CROSS_UP, CROSS_UP));
            int n = down.size();
            for (String t : down) {
                if (!t.equals(CROSS_DOWN) && !t.equals(DOWN)) {
                    throw bad("down_block_types", "block type \"" + t + "\" is not supported (supported: "
                            + CROSS_DOWN + ", " + DOWN + ").");
                }
            }
            for (String t : up) {
                if (!t.equals(CROSS_UP) && !t.equals(UP)) {
                    throw bad("up_block_types", "block type \"" + t + "\" is not supported (supported: "
                            + CROSS_UP + ", " + UP + ").");
                }
            }
            if (n == 0) {
                throw bad("down_block_types", "must name at least one block.");
            }
            if (up.size() != n) {
                throw bad("up_block_types", "has " + up.size() + " entries but down_block_types has " + n + ".");
            }
            JsonNode mid = root.get("mid_block_type");
            if (mid != null && !(mid.isTextual() && mid.asText().equals(MID))) {
                throw bad("mid_block_type", "is " + mid + "; only \"" + MID + "\" is supported.");
            }
            int[] channels = intList("block_out_channels", new int[] {320, 640, 1280, 1280}, 1);
            if (channels.length != n) {
                throw bad("block_out_channels", "has " + channels.length + " entries but down_block_types has " + n
                        + ".");
            }
            int[] layers = intOrList("layers_per_block", 2, n, 1);
            int[] heads = intOrList("attention_head_dim", 8, n, 1);
            int groups = positiveInt("norm_num_groups", 32);
            int cross = positiveInt("cross_attention_dim", 1280);
            String act = string("act_fn", "silu");
            if (!List.of("silu", "swish", "gelu", "relu").contains(act)) {
                throw bad("act_fn", "\"" + act + "\" is not supported (supported: silu, swish, gelu, relu).");
            }
            int padding = nonNegativeInt("downsample_padding", 1);
            if (padding > 1) {
                throw bad("downsample_padding", "is " + padding + "; only 0 and 1 are supported (larger paddings"
                        + " make the down path's sizes differ from the up path's).");
            }
            UNetConfig c = new UNetConfig(positiveInt("in_channels", 4), positiveInt("out_channels", 4), channels,
                    layers, down, up, cross, heads, groups, positiveNumber("norm_eps", 1e-5), act,
                    bool("flip_sin_to_cos", true), number("freq_shift", 0), bool("use_linear_projection", false),
                    padding, positiveNumber("mid_block_scale_factor", 1), bool("center_input_sample", false),
                    optionalPositiveInt("sample_size"));
            checkStructure(c);
            return c;
        }

        /** What diffusers would only discover when building layers: GroupNorm divisibility, head sizes. */
        private void checkStructure(UNetConfig c) {
            int n = c.levels();
            int g = c.normNumGroups();
            List<Integer> normChannels = new ArrayList<>();
            for (int ch : c.blockOutChannels()) {
                normChannels.add(ch);
            }
            // Up-block ResNets normalise the concatenation of the running and the skip tensor.
            int[] rev = c.blockOutChannels().clone();
            for (int i = 0; i < n / 2; i++) {
                int t = rev[i];
                rev[i] = rev[n - 1 - i];
                rev[n - 1 - i] = t;
            }
            int prevOut = rev[0];
            for (int i = 0; i < n; i++) {
                int out = rev[i];
                int in = rev[Math.min(i + 1, n - 1)];
                int layers = c.layersPerBlock()[n - 1 - i] + 1;
                for (int j = 0; j < layers; j++) {
                    int skip = j == layers - 1 ? in : out;
                    int resIn = j == 0 ? prevOut : out;
                    normChannels.add(resIn + skip);
                }
                prevOut = out;
            }
            for (int ch : normChannels) {
                if (ch % g != 0) {
                    throw bad("norm_num_groups", g + " does not divide " + ch
                            + ", the channel count of a GroupNorm in this network (block_out_channels "
                            + Arrays.toString(c.blockOutChannels()) + ").");
                }
            }
            for (int i = 0; i < n; i++) {
                if (c.blockOutChannels()[i] % c.attentionHeads()[i] != 0) {
                    throw bad("attention_head_dim", "block " + i + " has " + c.attentionHeads()[i]
                            + " heads (diffusers uses attention_head_dim as the number of heads), which do not"
                            + " divide its " + c.blockOutChannels()[i] + " channels.");
                }
            }
        }

        private void checkDefault(String key, JsonNode v) {
            JsonNode def;
            try {
                def = JSON.readTree(DEFAULT_ONLY.get(key));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
            boolean ok = v.equals(def) || (def.isNumber() && v.isNumber() && v.asDouble() == def.asDouble());
            if (!ok && v.isArray() && (def.isNumber() || def.isBoolean())) {
                // per-block lists of the default (e.g. transformer_layers_per_block [1, 1, 1])
                ok = true;
                for (JsonNode e : v) {
                    ok &= e.equals(def) || (def.isNumber() && e.isNumber() && e.asDouble() == def.asDouble());
                }
            }
            if (!ok) {
                String hint = key.equals("num_attention_heads")
                        ? " diffusers 0.27 itself refuses configs that set it; give the number of heads in"
                        + " attention_head_dim instead (diffusers' naming quirk)."
                        : " This network supports only the default, " + DEFAULT_ONLY.get(key) + ".";
                throw bad(key, "value " + v + " changes the network in a way that is not supported." + hint);
            }
        }

        private JsonNode get(String key) {
            JsonNode v = root.get(key);
            return v == null || v.isNull() ? null : v;
        }

        private int toInt(String key, JsonNode v, int min) {
            if (!v.isIntegralNumber() && !(v.isNumber() && v.asDouble() == Math.rint(v.asDouble()))) {
                throw bad(key, "must be an integer, got " + v + ".");
            }
            long x = v.asLong();
            if (x < min || x > Integer.MAX_VALUE) {
                throw bad(key, "must be an integer >= " + min + ", got " + v + ".");
            }
            return (int) x;
        }

        private int positiveInt(String key, int def) {
            JsonNode v = get(key);
            return v == null ? def : toInt(key, v, 1);
        }

        private int nonNegativeInt(String key, int def) {
            JsonNode v = get(key);
            return v == null ? def : toInt(key, v, 0);
        }

        private Integer optionalPositiveInt(String key) {
            JsonNode v = get(key);
            if (v == null) {
                return null;
            }
            if (v.isArray()) { // diffusers allows [h, w]; we only keep it for reference
                return v.size() > 0 ? toInt(key, v.get(0), 1) : null;
            }
            return toInt(key, v, 1);
        }

        private double number(String key, double def) {
            JsonNode v = get(key);
            if (v == null) {
                return def;
            }
            if (!v.isNumber()) {
                throw bad(key, "must be a number, got " + v + ".");
            }
            return v.asDouble();
        }

        private double positiveNumber(String key, double def) {
            double x = number(key, def);
            if (!(x > 0) || Double.isInfinite(x)) {
                throw bad(key, "must be a positive number, got " + root.get(key) + ".");
            }
            return x;
        }

        private boolean bool(String key, boolean def) {
            JsonNode v = get(key);
            if (v == null) {
                return def;
            }
            if (!v.isBoolean()) {
                throw bad(key, "must be true or false, got " + v + ".");
            }
            return v.asBoolean();
        }

        private String string(String key, String def) {
            JsonNode v = get(key);
            if (v == null) {
                return def;
            }
            if (!v.isTextual()) {
                throw bad(key, "must be a string, got " + v + ".");
            }
            return v.asText();
        }

        private List<String> stringList(String key, List<String> def) {
            JsonNode v = get(key);
            if (v == null) {
                return def;
            }
            if (!v.isArray()) {
                throw bad(key, "must be a list of block type names, got " + v + ".");
            }
            List<String> out = new ArrayList<>();
            for (JsonNode e : v) {
                if (!e.isTextual()) {
                    throw bad(key, "must be a list of block type names, got " + v + ".");
                }
                out.add(e.asText());
            }
            return out;
        }

        private int[] intList(String key, int[] def, int min) {
            JsonNode v = get(key);
            if (v == null) {
                return def;
            }
            if (!v.isArray()) {
                throw bad(key, "must be a list of integers, got " + v + ".");
            }
            int[] out = new int[v.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = toInt(key, v.get(i), min);
            }
            return out;
        }

        /** An int applied to every block, or one per block (diffusers' Union[int, Tuple[int]]). */
        private int[] intOrList(String key, int def, int n, int min) {
            JsonNode v = get(key);
            int[] out = new int[n];
            if (v == null) {
                Arrays.fill(out, def);
                return out;
            }
            if (v.isArray()) {
                if (v.size() != n) {
                    throw bad(key, "has " + v.size() + " entries but down_block_types has " + n + ".");
                }
                return intList(key, null, min);
            }
            Arrays.fill(out, toInt(key, v, min));
            return out;
        }
    }
}
