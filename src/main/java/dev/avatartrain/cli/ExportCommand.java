package dev.avatartrain.cli;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.models.unet.UNetConfig;
import dev.avatartrain.models.unet.UNetLayouts;
import dev.avatartrain.models.unet.UNetWeights;
import dev.avatartrain.tensors.Safetensors;
import dev.avatartrain.tensors.TensorFiles;
import dev.avatartrain.train.Checkpoints;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "export", mixinStandardHelpOptions = true,
        description = {"Write a checkpoint's weights with their PyTorch names, in a layout inference code loads.",
                "file: one safetensors (diffusers' UNet2DConditionModel, InfiniteTalk's AudioProjModel load it with strict=True);",
                "diffusers: a folder UNet2DConditionModel.from_pretrained(dir) loads (config.json + diffusion_pytorch_model.safetensors);",
                "musetalk: MuseTalk's folder (musetalk.json + pytorch_model.bin, a torch.save state dict).",
                "Optionally in fp16 or bf16."})
final class ExportCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(ExportCommand.class);
    @Option(names = "--checkpoint", required = true, paramLabel = "CKPT",
            description = "A checkpoint folder (output_dir/checkpoints/checkpoint-N) or its model.safetensors; also any UNet weights"
                    + " model.unet_pretrained_model_name_or_path accepts (a file or a diffusers or MuseTalk folder,"
                    + " local, at a storage URL or a Hugging Face repo owner/name[@revision][:subfolder or :file]).")
    String checkpoint;

    @Option(names = "--output", required = true, paramLabel = "OUT", description = "The file (--layout file) or folder to write.")
    Path output;

    @Option(names = "--layout", defaultValue = "file", paramLabel = "file|diffusers|musetalk", description = "Layout (default: ${DEFAULT-VALUE}).")
    String layout;

    @Option(names = "--unet-config", paramLabel = "FILE", description = "The UNet's config JSON for the folder layouts (default: the one"
            + " recorded in the checkpoint).")
    Path unetConfig;

    @Option(names = "--dtype", defaultValue = "fp32", paramLabel = "fp32|fp16|bf16", description = "Stored type (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--prefix", defaultValue = "", paramLabel = "PREFIX", description = "Put this before every name, e.g. 'unet.' or 'audio_proj.' (--layout file).")
    String prefix;

    @Override
    public Integer call() throws Exception {
        DataType type = switch (dtype) {
            case "fp32" -> DataType.FLOAT;
            case "fp16" -> DataType.HALF;
            case "bf16" -> DataType.BFLOAT16;
            default -> throw new BadInputException("--dtype " + dtype + ": expected fp32, fp16 or bf16");
        };
        if (!UNetLayouts.LAYOUTS.contains(layout)) throw new BadInputException("--layout " + layout + ": expected one of " + UNetLayouts.LAYOUTS);
        Path given = Path.of(checkpoint);
        Path model = Files.isDirectory(given) ? given.resolve(Checkpoints.MODEL) : given;
        Path state = model.resolveSibling(Checkpoints.STATE);
        Map<String, INDArray> weights;
        Map<String, String> meta = new LinkedHashMap<>();
        String configJson = null, configSource = null, pe = null;
        if (model.getFileName().toString().equals(Checkpoints.MODEL) && Files.isRegularFile(model)) {
            if (!Files.exists(state)) {
                throw new BadInputException(model.getParent() + ": incomplete checkpoint (no " + Checkpoints.STATE + "; its write was interrupted)");
            }
            Safetensors.SafetensorsFile f = Safetensors.read(model, null);
            weights = f.tensors();
            meta.putAll(f.metadata());
            UNetWeights.Source src = UNetWeights.locate(model.getParent().toString(), Path.of("."), null, null);
            configJson = src.configJson();
            configSource = src.configSource();
            pe = src.positionalEncoding();
        } else {
            org.apache.hadoop.conf.Configuration hadoop = new org.apache.hadoop.conf.Configuration();
            UNetWeights.Source src = UNetWeights.locate(checkpoint, dev.avatartrain.jobs.TrainJob.unetCache(), hadoop,
                    UNetWeights.hub(hadoop));
            weights = TensorFiles.read(src.weights(), null);
            configJson = src.configJson();
            configSource = src.configSource();
            pe = src.positionalEncoding();
            String strip = weights.keySet().stream().allMatch(k -> k.startsWith("unet.")) ? "unet." : "";
            if (!strip.isEmpty()) {
                Map<String, INDArray> s = new LinkedHashMap<>();
                weights.forEach((k, v) -> s.put(k.substring(strip.length()), v));
                weights = s;
            }
        }
        if (unetConfig != null) {
            configJson = Files.readString(unetConfig);
            configSource = unetConfig.toString();
        }
        UNetConfig cfg = configJson == null ? null : UNetConfig.parse(configJson, configSource);
        Map<String, INDArray> out = new LinkedHashMap<>();
        weights.forEach((n, a) -> out.put(n, a.castTo(type)));
        meta.remove("format");
        UNetLayouts.write(layout, output, out, layout.equals("file") ? null : cfg, pe, prefix, meta);
        LOG.info("export: " + out.size() + " tensors (" + dtype + ", " + layout + " layout"
                + (pe == null ? "" : ", audio positional encoding " + pe) + ") from " + model + " → " + output);
        return Main.EXIT_OK;
    }
}
