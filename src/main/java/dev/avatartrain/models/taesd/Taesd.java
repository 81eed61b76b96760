package dev.avatartrain.models.taesd;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.models.kernels.Activation;
import dev.avatartrain.models.nn.Backend;
import dev.avatartrain.models.nn.DefinedNetwork;
import dev.avatartrain.models.nn.Definition;
import dev.avatartrain.models.nn.Ops;
import dev.avatartrain.tensors.TensorFiles;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The TAESD tiny autoencoder family (taesd, taesdxl, taesd3, taef1, taef2), equal to {@code madebyollin/taesd}'s
 * {@code Encoder}/{@code Decoder}: each defined once ({@code Encoder}, {@code Decoder}), run forward on
 * the {@link Backend} chosen when it is built.
 *
 * <p>Conventions: images are NCHW RGB in <b>[0, 1]</b> (taesd.py's, not diffusers' [-1, 1]); the encoder maps
 * {@code [B,3,H,W]} to raw latents {@code [B,C,H/8,W/8]}; the decoder maps raw latents back to an image that is
 * approximately in [0, 1] and not clamped (clamp it yourself for display). {@link #scaleLatents} /
 * {@link #unscaleLatents} convert raw latents to/from [0, 1] as taesd.py does (magnitude 3, shift 0.5).
 *
 * <p>Parameters are named as in taesd.py's released {@code .pth} files ({@code 0.weight},
 * {@code 1.conv.0.weight}, {@code 11.pool.1.weight}, ...). {@link #fromDiffusers} converts diffusers
 * {@code AutoencoderTiny} names ({@code encoder.layers.N.*}; {@code decoder.layers.N.*} = taesd index N+1,
 * since taesd.py's decoder index 0 is the clamp). The latent channel count and the mid-block GroupNorm variant
 * (taef2) are read from the weights, never from a file name.
 */
public final class Taesd {
    /** Input / output names. */
    public static final String IMAGE = "image";
    public static final String LATENT = "latent";
    public static final String DECODED = "decoded";

    static final double LATENT_MAGNITUDE = 3;
    static final double LATENT_SHIFT = 0.5;

    private Taesd() {
    }

    /** The architecture choices of the family: latent channels and whether mid blocks have the GroupNorm pool. */
    public record Config(int latentChannels, boolean midBlockGroupNorm) {
        public Config {
            if (latentChannels < 1) {
                throw new IllegalArgumentException("latentChannels must be >= 1, got " + latentChannels);
            }
        }
    }

    /** An encoder or decoder with its parameters (taesd.py names). */
    public static final class Model extends DefinedNetwork {
        private final Config config;
        private final boolean encoder;

        private Model(Config config, boolean encoder, DataType dtype, long seed, Backend backend) {
            super(encoder ? "TAESD encoder" : "TAESD decoder", encoder ? new Encoder(config) : new Decoder(config),
                    dtype, seed, backend);
            this.config = config;
            this.encoder = encoder;
        }

        public Config config() {
            return config;
        }

        public boolean encoder() {
            return encoder;
        }

        /** Images [B,3,H,W] in [0,1] → raw latents (encoder only). */
        public INDArray encode(INDArray images) {
            if (!encoder) {
                throw new IllegalStateException("this TAESD model is a decoder");
            }
            return forward(Map.of(IMAGE, images.castTo(dataType())), LATENT).get(LATENT);
        }

        /** Raw latents [B,C,h,w] → images [B,3,8h,8w], about [0,1], unclamped (decoder only). */
        public INDArray decode(INDArray latents) {
            if (encoder) {
                throw new IllegalStateException("this TAESD model is an encoder");
            }
            return forward(Map.of(LATENT, latents.castTo(dataType())), DECODED).get(DECODED);
        }
    }

    /** Raw latents → [0, 1] (taesd.py {@code scale_latents}): {@code clamp(x / 6 + 0.5, 0, 1)}. */
    public static INDArray scaleLatents(INDArray raw) {
        INDArray y = raw.div(2 * LATENT_MAGNITUDE).addi(LATENT_SHIFT);
        return Transforms.min(Transforms.max(y, 0.0, false), 1.0, false);
    }

    /** [0, 1] → raw latents (taesd.py {@code unscale_latents}): {@code (x - 0.5) * 6}. */
    public static INDArray unscaleLatents(INDArray scaled) {
        return scaled.sub(LATENT_SHIFT).muli(2 * LATENT_MAGNITUDE);
    }

    /**
     * Reads an encoder from a weights file ({@code .pth}/{@code .pt} as released by taesd, or a diffusers
     * {@code AutoencoderTiny} {@code .safetensors}; see {@link TensorFiles}), converted to {@code dtype}.
     */
    public static Model loadEncoder(Path file, DataType dtype) {
        return loadEncoder(TensorFiles.read(file, dtype), file.toString(), dtype);
    }

    /** Reads a decoder from a weights file, like {@link #loadEncoder(Path, DataType)}. */
    public static Model loadDecoder(Path file, DataType dtype) {
        return loadDecoder(TensorFiles.read(file, dtype), file.toString(), dtype);
    }

    /** Builds an encoder, infers its config from {@code weights} (either layout) and loads them strictly. */
    public static Model loadEncoder(Map<String, INDArray> weights, String source, DataType dtype) {
        return loadEncoder(weights, source, dtype, Backend.defaultFor(dtype));
    }

    /** As {@link #loadEncoder(Map, String, DataType)}, on {@code backend}. */
    public static Model loadEncoder(Map<String, INDArray> weights, String source, DataType dtype, Backend backend) {
        Map<String, INDArray> w = normalize(weights, true);
        Model m = encoder(inferEncoder(w, source), dtype, 0, backend);
        m.load(w, "", source);
        return m;
    }

    /** Builds a decoder, infers its config from {@code weights} (either layout) and loads them strictly. */
    public static Model loadDecoder(Map<String, INDArray> weights, String source, DataType dtype) {
        return loadDecoder(weights, source, dtype, Backend.defaultFor(dtype));
    }

    /** As {@link #loadDecoder(Map, String, DataType)}, on {@code backend}. */
    public static Model loadDecoder(Map<String, INDArray> weights, String source, DataType dtype, Backend backend) {
        Map<String, INDArray> w = normalize(weights, false);
        Model m = decoder(inferDecoder(w, source), dtype, 0, backend);
        m.load(w, "", source);
        return m;
    }

    /**
     * Brings weights to taesd.py names: diffusers {@code encoder.layers.N.x} → {@code N.x},
     * {@code decoder.layers.N.x} → {@code (N+1).x}; names already in taesd.py form pass unchanged. A diffusers
     * file holding both halves may be given to either side: the other half is dropped.
     */
    public static Map<String, INDArray> fromDiffusers(Map<String, INDArray> weights, boolean encoder) {
        return normalize(weights, encoder);
    }

    /** taesd.py names → diffusers {@code AutoencoderTiny} names for one half. */
    public static Map<String, INDArray> toDiffusers(Map<String, INDArray> weights, boolean encoder) {
        Map<String, INDArray> out = new LinkedHashMap<>();
        for (Map.Entry<String, INDArray> e : weights.entrySet()) {
            int dot = e.getKey().indexOf('.');
            int idx = Integer.parseInt(e.getKey().substring(0, dot));
            String rest = e.getKey().substring(dot);
            out.put(encoder ? "encoder.layers." + idx + rest : "decoder.layers." + (idx - 1) + rest, e.getValue());
        }
        return out;
    }

    private static Map<String, INDArray> normalize(Map<String, INDArray> weights, boolean encoder) {
        boolean diffusers = weights.keySet().stream()
                .anyMatch(k -> k.startsWith("encoder.layers.") || k.startsWith("decoder.layers."));
        if (!diffusers) {
            return weights;
        }
        String prefix = encoder ? "encoder.layers." : "decoder.layers.";
        Map<String, INDArray> out = new LinkedHashMap<>();
        for (Map.Entry<String, INDArray> e : weights.entrySet()) {
            String k = e.getKey();
            if (!k.startsWith(prefix)) {
                // the other half of an AutoencoderTiny file, or a stray key the strict load will report
                if (!k.startsWith("encoder.layers.") && !k.startsWith("decoder.layers.")) {
                    out.put(k, e.getValue());
                }
                continue;
            }
            String rest = k.substring(prefix.length());
            int dot = rest.indexOf('.');
            int idx = Integer.parseInt(rest.substring(0, dot)) + (encoder ? 0 : 1);
            out.put(idx + rest.substring(dot), e.getValue());
        }
        return out;
    }

    static Config inferEncoder(Map<String, INDArray> w, String source) {
        INDArray last = w.get("14.weight");
        if (last == null || last.rank() != 4) {
            throw new BadInputException(source + ": not a TAESD encoder: no 4-D tensor '14.weight' (or "
                    + "'encoder.layers.14.weight') holding the latent convolution.");
        }
        return new Config((int) last.size(0), w.containsKey("11.pool.0.weight"));
    }

    static Config inferDecoder(Map<String, INDArray> w, String source) {
        INDArray first = w.get("1.weight");
        if (first == null || first.rank() != 4) {
            throw new BadInputException(source + ": not a TAESD decoder: no 4-D tensor '1.weight' (or "
                    + "'decoder.layers.0.weight') holding the latent convolution.");
        }
        return new Config((int) first.size(1), w.containsKey("3.pool.0.weight"));
    }

    /** A freshly initialised encoder (input {@link #IMAGE}, output {@link #LATENT}) on the default backend. */
    public static Model encoder(Config cfg, DataType dtype, long seed) {
        return new Model(cfg, true, dtype, seed, Backend.defaultFor(dtype));
    }

    /** A freshly initialised encoder on {@code backend}. */
    public static Model encoder(Config cfg, DataType dtype, long seed, Backend backend) {
        return new Model(cfg, true, dtype, seed, backend);
    }

    /** A freshly initialised decoder (input {@link #LATENT}, output {@link #DECODED}) on the default backend. */
    public static Model decoder(Config cfg, DataType dtype, long seed) {
        return new Model(cfg, false, dtype, seed, Backend.defaultFor(dtype));
    }

    /** A freshly initialised decoder on {@code backend}. */
    public static Model decoder(Config cfg, DataType dtype, long seed, Backend backend) {
        return new Model(cfg, false, dtype, seed, backend);
    }

    /** taesd.py's {@code Encoder}. */
    private record Encoder(Config cfg) implements Definition {
        @Override
        public String output() {
            return LATENT;
        }

        @Override
        public <T> T forward(Ops<T> nn) {
            T x = nn.input(IMAGE, -1, 3, -1, -1);
            x = nn.conv2d("0", x, 3, 64, 3, 1, 1, true);
            x = block(nn, "1", x, false);
            int i = 2;
            for (int stage = 0; stage < 3; stage++) {
                x = nn.conv2d(String.valueOf(i++), x, 64, 64, 3, 2, 1, false);
                boolean gn = stage == 2 && cfg.midBlockGroupNorm();
                for (int b = 0; b < 3; b++) {
                    x = block(nn, String.valueOf(i++), x, gn);
                }
            }
            return nn.conv2d(String.valueOf(i), x, 64, cfg.latentChannels(), 3, 1, 1, true);
        }
    }

    /** taesd.py's {@code Decoder} (index 0 is the soft clamp, 2 a ReLU, each upsampling takes an index). */
    private record Decoder(Config cfg) implements Definition {
        @Override
        public String output() {
            return DECODED;
        }

        @Override
        public <T> T forward(Ops<T> nn) {
            T x = nn.tanhClamp(nn.input(LATENT, -1, cfg.latentChannels(), -1, -1), 3);
            x = nn.relu(nn.conv2d("1", x, cfg.latentChannels(), 64, 3, 1, 1, true));
            int i = 3;
            for (int stage = 0; stage < 3; stage++) {
                boolean gn = stage == 0 && cfg.midBlockGroupNorm();
                for (int b = 0; b < 3; b++) {
                    x = block(nn, String.valueOf(i++), x, gn);
                }
                x = nn.upsample2x(x);
                i++;
                x = nn.conv2d(String.valueOf(i++), x, 64, 64, 3, 1, 1, false);
            }
            x = block(nn, String.valueOf(i++), x, false);
            return nn.conv2d(String.valueOf(i), x, 64, 3, 3, 1, 1, true);
        }
    }

    /** taesd.py {@code Block(64, 64, use_midblock_gn)}: relu(conv(x') + x') with x' = x + pool(x) if gn. */
    private static <T> T block(Ops<T> nn, String p, T x, boolean midBlockGroupNorm) {
        if (midBlockGroupNorm) {
            T h = nn.conv2d(p + ".pool.0", x, 64, 256, 1, 1, 0, false);
            h = nn.groupNorm(p + ".pool.1", h, 4, 256, 1e-5, Activation.RELU);
            x = nn.add(x, nn.conv2d(p + ".pool.3", h, 256, 64, 1, 1, 0, false));
        }
        T h = nn.relu(nn.conv2d(p + ".conv.0", x, 64, 64, 3, 1, 1, true));
        h = nn.relu(nn.conv2d(p + ".conv.2", h, 64, 64, 3, 1, 1, true));
        h = nn.conv2d(p + ".conv.4", h, 64, 64, 3, 1, 1, true);
        return nn.relu(nn.add(h, x));
    }
}
