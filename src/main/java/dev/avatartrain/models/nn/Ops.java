package dev.avatartrain.models.nn;

import java.util.List;
import java.util.function.Function;

import dev.avatartrain.models.kernels.Activation;

/**
 * The layer vocabulary a network's forward pass is written against, once: {@code T} is a tensor of the backend
 * ({@link TapeOps}: the hand-written kernels; {@link GraphOps}: SameDiff). Shapes are PyTorch's: images NCHW, tokens
 * {@code [B, n, features]}, linear layers on the last axis. A definition only passes tensors from one operation to the
 * next; it never looks inside them.
 *
 * <p>The named layers ({@link #conv2d(String, Object, int, int, int, int, int, boolean)}, {@link #linear(String,
 * Object, int, int, boolean)}, the norms) take the PyTorch module prefix and use {@code prefix.weight} /
 * {@code prefix.bias} from {@link #parameters()}, which declares them the first time (PyTorch's default
 * initialisation) and holds them afterwards.
 */
public interface Ops<T> {
    /** A named input of the pass, {@code shape} with -1 for sizes fixed only by the data. */
    T input(String name, long... shape);

    /** The network's parameter {@code name} as a tensor of this pass. */
    T parameter(String name);

    /** The network's parameters. */
    Parameters parameters();

    /** {@code nn.Conv2d}: square kernel, symmetric zero padding; weight {@code [out, in, k, k]}; {@code bias} may be null. */
    T conv2d(T x, T weight, T bias, int stride, int pad);

    /** {@code x Wᵀ + b} on the last axis; {@code W [out, in]} (or a 1×1 convolution's {@code [out, in, 1, 1]}). */
    T linear(T x, T weight, T bias);

    /** {@code nn.GroupNorm} on NCHW input, then {@code act}. */
    T groupNorm(T x, T gamma, T beta, int groups, double eps, Activation act);

    /** {@code nn.LayerNorm} over the last axis. */
    T layerNorm(T x, T gamma, T beta, double eps);

    T activation(T x, Activation act);

    /** diffusers' GEGLU on {@code proj [..., 2·hidden]}: the first half times gelu of the second. */
    T geglu(T proj, int hidden);

    /** {@code softmax(q kᵀ/√d) v} per head on {@code q [B, n, heads·d]}, {@code k, v [B, m, heads·d]}. */
    T attention(T q, T k, T v, int heads, int headDim);

    T add(T a, T b);

    /** {@code x · a + b}. */
    T affine(T x, double a, double b);

    /** {@code h [B, C, H, W] + t [B, C]} broadcast over the positions. */
    T addPerChannel(T h, T t);

    /** Concatenation of two tensors along {@code axis}. */
    T concat(int axis, T a, T b);

    /** One row of zeros at the bottom and one column at the right of NCHW input. */
    T padBottomRight(T x);

    /** Nearest-neighbour 2× upsampling of NCHW input. */
    T upsample2x(T x);

    /** {@code [B, C, H, W] -> [B, H·W, C]}. */
    T toTokens(T x);

    /** {@code [B, H·W, C] -> [B, C, H, W]}, with B, H, W those of {@code like}. */
    T fromTokens(T tokens, T like);

    /** All axes from {@code axis} on merged into one. */
    T flatten(T x, int axis);

    /** The last axis split into {@code [parts, last / parts]}. */
    T splitLast(T x, int parts);

    /**
     * diffusers' {@code Timesteps} of {@code t [B]}: {@code [B, dim]} sinusoidal embedding, frequencies
     * {@code exp(-ln(10000)·i / (dim/2 - shift))} computed in float32, {@code [cos, sin]} when flipped.
     */
    T timestepEmbedding(T t, int dim, double shift, boolean flipSinToCos);

    /** {@code limit · tanh(x / limit)}. */
    T tanhClamp(T x, double limit);

    /** Mean of {@code (out - target)²} over all elements: a scalar. */
    T mseLoss(T out, T target);

    /** Mean of {@code |out - target|} over all elements: a scalar. */
    T l1Loss(T out, T target);

    /**
     * {@code Σ_r w_r · mean((out_r - target_r)²)} where {@code w [d0, …, dk]} covers the leading axes of {@code out}
     * and each row r is the rest: a scalar.
     */
    T rowWeightedMse(T out, T target, T w);

    /**
     * One block of the network (diffusers' checkpointed modules: a ResNet, a transformer) as {@code block} of
     * {@code inputs}, which must name every activation the block reads (parameters it reads itself). A backend may
     * implement gradient checkpointing here: keep only the inputs in the forward pass and run the block again in the
     * backward pass ({@link TapeOps} does when the network's checkpointing is on). Default: the block, run directly.
     */
    default T checkpoint(List<T> inputs, Function<List<T>, T> block) {
        return block.apply(inputs);
    }

    // ------------------------------------------------------------------------------------------------------------
    // Named layers: parameters as PyTorch names and initialises them

    /** {@code nn.Conv2d(in, out, k, stride, pad, bias=bias)} as module {@code prefix}. */
    default T conv2d(String prefix, T x, int in, int out, int k, int stride, int pad, boolean bias) {
        double bound = 1.0 / Math.sqrt((double) in * k * k);
        parameters().uniform(prefix + ".weight", bound, out, in, k, k);
        if (bias) {
            parameters().uniform(prefix + ".bias", bound, out);
        }
        return conv2d(x, parameter(prefix + ".weight"), bias ? parameter(prefix + ".bias") : null, stride, pad);
    }

    /** {@code nn.Linear(in, out, bias=bias)} as module {@code prefix}, on the last axis of {@code x}. */
    default T linear(String prefix, T x, int in, int out, boolean bias) {
        return pointwise(prefix, x, in, out, bias, false);
    }

    /**
     * A linear map of the last axis whose weight is a 1×1 convolution's {@code [out, in, 1, 1]} when
     * {@code convWeight} (diffusers' {@code proj_in}/{@code proj_out} without {@code use_linear_projection}: the same
     * product, applied to tokens), else a linear layer's {@code [out, in]}.
     */
    default T pointwise(String prefix, T x, int in, int out, boolean bias, boolean convWeight) {
        double bound = 1.0 / Math.sqrt(in);
        if (convWeight) {
            parameters().uniform(prefix + ".weight", bound, out, in, 1, 1);
        } else {
            parameters().uniform(prefix + ".weight", bound, out, in);
        }
        if (bias) {
            parameters().uniform(prefix + ".bias", bound, out);
        }
        return linear(x, parameter(prefix + ".weight"), bias ? parameter(prefix + ".bias") : null);
    }

    /** {@code nn.GroupNorm(groups, channels, eps)} as module {@code prefix}, then {@code act}. */
    default T groupNorm(String prefix, T x, int groups, int channels, double eps, Activation act) {
        if (channels % groups != 0) {
            throw new IllegalArgumentException("GroupNorm " + prefix + ": " + channels + " channels not divisible by "
                    + groups + " groups");
        }
        parameters().filled(prefix + ".weight", 1, channels);
        parameters().filled(prefix + ".bias", 0, channels);
        return groupNorm(x, parameter(prefix + ".weight"), parameter(prefix + ".bias"), groups, eps, act);
    }

    /** {@code nn.LayerNorm(dim, eps)} as module {@code prefix}, over the last axis. */
    default T layerNorm(String prefix, T x, int dim, double eps) {
        parameters().filled(prefix + ".weight", 1, dim);
        parameters().filled(prefix + ".bias", 0, dim);
        return layerNorm(x, parameter(prefix + ".weight"), parameter(prefix + ".bias"), eps);
    }

    default T scale(T x, double s) {
        return affine(x, s, 0);
    }

    default T relu(T x) {
        return activation(x, Activation.RELU);
    }
}
