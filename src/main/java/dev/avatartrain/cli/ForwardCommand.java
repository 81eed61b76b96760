package dev.avatartrain.cli;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import dev.avatartrain.config.ProjectPaths;
import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.models.nn.NamedWeights;
import dev.avatartrain.models.nn.Network;
import dev.avatartrain.models.taesd.Taesd;
import dev.avatartrain.models.taesd.TaesdSource;
import dev.avatartrain.models.unet.UNet;
import dev.avatartrain.models.unet.UNetConfig;
import dev.avatartrain.models.unet.UNetWeights;
import dev.avatartrain.tensors.Safetensors;
import dev.avatartrain.tensors.TensorFiles;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "forward", mixinStandardHelpOptions = true,
        description = {"Run one forward pass of a network on named input tensors and write its output.",
                "Inputs and output are safetensors files; the output tensor is named \"out\".",
                "Inputs: unet: sample [B,in,h,w], timestep [B] or [1], encoder_hidden_states [B,S,cross_attention_dim];",
                "taesd-encoder: images [B,3,H,W] in [0,1]; taesd-decoder: latents [B,C,h,w];",
                "audio-adapter: audio_embeds [T,L,C] (one clip, windowed as InfiniteTalk) → out [1+(T-1)/vae_scale, tokens, dim].",
                "Weights: safetensors or .pt/.pth with PyTorch names (a 'unet.' prefix is accepted); without --weights a seeded",
                "random initialisation (save it with --save-weights)."})
final class ForwardCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(ForwardCommand.class);
    enum Model { unet, taesd_encoder, taesd_decoder, audio_adapter }

    @Option(names = "--model", required = true, paramLabel = "unet|taesd-encoder|taesd-decoder|audio-adapter",
            converter = ModelConverter.class, description = "Which network.")
    Model model;

    @Option(names = "--config", paramLabel = "FILE", description = "unet: diffusers config JSON (default: configuration/unet/config.json); audio-adapter: JSON of"
                    + " audio_window, vae_scale, blocks, channels, intermediate_dim, context_tokens, output_dim, norm_output_audio"
                    + " (default: InfiniteTalk's).")
    Path config;

    @Option(names = "--weights", paramLabel = "W", description = "Weights (.safetensors, .pt, .pth, .bin): a local file or"
            + " folder, a storage URL, or a Hugging Face repo owner/name[@revision][:subfolder or :file]; a folder or repo gives"
            + " the model's usual file"
            + " (e.g. diffusion_pytorch_model.safetensors, taesd_encoder.pth).")
    String weights;

    @Option(names = "--input", required = true, paramLabel = "IN.safetensors", description = "Named input tensors.")
    Path input;

    @Option(names = "--output", required = true, paramLabel = "OUT.safetensors", description = "Where to write \"out\".")
    Path output;

    @Option(names = "--save-weights", paramLabel = "FILE", description = "Also write the weights used (e.g. the random ones) as safetensors.")
    Path saveWeights;

    @Option(names = "--audio-positional-encoding", defaultValue = "none", paramLabel = "none|musetalk",
            description = "unet: add this to encoder_hidden_states first, as train does with train.audio_positional_encoding (default: ${DEFAULT-VALUE}).")
    String audioPositionalEncoding;

    @Option(names = "--seed", defaultValue = "0", description = "Seed of the random initialisation without --weights (default: ${DEFAULT-VALUE}).")
    long seed;

    static final class ModelConverter implements picocli.CommandLine.ITypeConverter<Model> {
        @Override
        public Model convert(String value) {
            return Model.valueOf(value.replace('-', '_'));
        }
    }

    @Override
    public Integer call() throws Exception {
        Map<String, INDArray> in = Safetensors.read(input, DataType.FLOAT).tensors();
        List<String> known = switch (model) {
            case unet -> UNetWeights.WEIGHTS_FILES;
            case taesd_encoder -> TaesdSource.ENCODER_FILES;
            case taesd_decoder -> TaesdSource.DECODER_FILES;
            case audio_adapter -> dev.avatartrain.models.adapter.AudioProjModel.WEIGHTS_FILES;
        };
        Map<String, INDArray> w = weights == null ? null : TensorFiles.read(dev.avatartrain.hub.HubFiles.resolveWeightsFile(
                weights, known, new org.apache.hadoop.conf.Configuration()), DataType.FLOAT);
        Network net;
        INDArray out;
        switch (model) {
            case unet -> {
                Path cfg = config != null ? config : ProjectPaths.resolve("configuration/unet/config.json");
                UNet u = UNet.build(UNetConfig.parse(Files.readString(cfg), cfg.toString()), DataType.FLOAT, seed);
                if (w != null) u.load(w, NamedWeights.guessPrefix(u, w, "unet.", "model."), weights);
                INDArray audio = dev.avatartrain.data.AudioPositionalEncoding.of(audioPositionalEncoding).apply(need(in, UNet.ENCODER_HIDDEN_STATES));
                out = u.forward(need(in, UNet.SAMPLE), need(in, UNet.TIMESTEP), audio);
                net = u;
            }
            case taesd_encoder -> {
                Taesd.Model m = w != null ? Taesd.loadEncoder(w, weights, DataType.FLOAT)
                        : Taesd.encoder(new Taesd.Config(4, false), DataType.FLOAT, seed);
                out = m.encode(need(in, "images"));
                net = m;
            }
            case taesd_decoder -> {
                Taesd.Model m = w != null ? Taesd.loadDecoder(w, weights, DataType.FLOAT)
                        : Taesd.decoder(new Taesd.Config(4, false), DataType.FLOAT, seed);
                out = m.decode(need(in, "latents"));
                net = m;
            }
            case audio_adapter -> {
                dev.avatartrain.models.adapter.AudioProjConfig cfg = config == null ? dev.avatartrain.models.adapter.AudioProjConfig.defaults()
                        : dev.avatartrain.models.adapter.AudioProjConfig.parse(Files.readString(config), config.toString());
                dev.avatartrain.models.adapter.AudioProjModel m = dev.avatartrain.models.adapter.AudioProjModel.build(cfg, DataType.FLOAT, seed);
                if (w != null) m.load(w, weights);
                out = m.forward(need(in, "audio_embeds"));
                net = m;
            }
            default -> throw new IllegalStateException("unknown model " + model);
        }
        Map<String, INDArray> result = new LinkedHashMap<>();
        result.put("out", out);
        Safetensors.write(output, result, Map.of("model", model.name().replace('_', '-')));
        LOG.info("forward: " + model.name().replace('_', '-') + " out " + java.util.Arrays.toString(out.shape()) + " → " + output);
        if (saveWeights != null) {
            Safetensors.write(saveWeights, net.export(DataType.FLOAT), Map.of("format", "pt"));
            LOG.info("forward: weights → " + saveWeights);
        }
        return Main.EXIT_OK;
    }

    private INDArray need(Map<String, INDArray> in, String name) {
        INDArray a = in.get(name);
        if (a == null) throw new BadInputException(input + ": no input tensor \"" + name + "\" (has " + in.keySet() + ")");
        return a;
    }
}
