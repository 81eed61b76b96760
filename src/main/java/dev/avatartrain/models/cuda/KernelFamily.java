package dev.avatartrain.models.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The CUDA C sources, one per family of kernels ({@code avatar-train/cuda/<name>.cu}, all including
 * {@code common.cuh}), and the entry points each defines: the names the backend launches. Typed kernels exist for
 * float32 and bfloat16 tensors, with the suffix {@code _f32} / {@code _bf16}.
 */
public enum KernelFamily {
    NORMS(true, "group_norm_act_fwd", "group_norm_act_bwd", "layer_norm_fwd", "layer_norm_bwd_input",
            "layer_norm_bwd_params"),
    ACTIVATIONS(true, "act_fwd", "act_bwd", "geglu_fwd", "geglu_bwd", "tanh_clamp_fwd", "tanh_clamp_bwd"),
    ELEMENTWISE(true, "add", "affine", "add_per_channel", "accumulate", "sum_rows", "sum_columns",
            "bias_rows", "add_bias_channels", "sum_channels", "fill"),
    LAYOUT(true, "concat", "split", "pad_bottom_right", "crop_bottom_right", "upsample2x_fwd", "upsample2x_bwd",
            "transpose"),
    EMBEDDING(true, "timestep_embedding"),
    LOSSES(true, "mse_fwd", "mse_bwd", "l1_fwd", "l1_bwd", "row_weighted_mse_fwd", "row_weighted_mse_bwd"),
    CAST(false, "cast_f32_to_bf16", "cast_bf16_to_f32"),
    OPTIMIZER(false, "adamw_step", "sum_squares_f32"),
    SOFTMAX(false, "softmax_fwd_f32", "softmax_bwd_f32");

    /** The header every family includes. */
    static final String HEADER = "common.cuh";
    private static final String DIR = "/avatar-train/cuda/";

    private final boolean typed;
    private final List<String> bases;

    KernelFamily(boolean typed, String... bases) {
        this.typed = typed;
        this.bases = List.of(bases);
    }

    /** The source's file name, e.g. {@code norms.cu}. */
    public String fileName() {
        return name().toLowerCase() + ".cu";
    }

    /** Every entry point the family's source defines. */
    public List<String> kernels() {
        if (!typed) {
            return bases;
        }
        List<String> out = new ArrayList<>();
        for (String b : bases) {
            for (DType t : DType.values()) {
                out.add(b + "_" + t.suffix);
            }
        }
        return out;
    }

    String source() {
        return resource(fileName());
    }

    static String header() {
        return resource(HEADER);
    }

    private static String resource(String file) {
        try (InputStream in = KernelFamily.class.getResourceAsStream(DIR + file)) {
            if (in == null) {
                throw new IllegalStateException("kernel source " + DIR + file + " is missing from the classpath");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Total entry points over all families. */
    public static int kernelCount() {
        int n = 0;
        for (KernelFamily f : values()) {
            n += f.kernels().size();
        }
        return n;
    }
}
