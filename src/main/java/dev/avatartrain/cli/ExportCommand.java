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
import dev.avatartrain.tensors.Safetensors;
import dev.avatartrain.train.Checkpoints;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "export", mixinStandardHelpOptions = true,
        description = {"Write a checkpoint's weights as safetensors with their PyTorch names (diffusers' UNet2DConditionModel,",
                "InfiniteTalk's AudioProjModel load it with strict=True), optionally in fp16 or bf16."})
final class ExportCommand implements Callable<Integer> {
    private static final Logger LOG = LoggerFactory.getLogger(ExportCommand.class);
    @Option(names = "--checkpoint", required = true, paramLabel = "CKPT",
            description = "A checkpoint folder (output_dir/checkpoints/checkpoint-N) or its model.safetensors.")
    Path checkpoint;

    @Option(names = "--output", required = true, paramLabel = "FILE.safetensors", description = "The file to write.")
    Path output;

    @Option(names = "--dtype", defaultValue = "fp32", paramLabel = "fp32|fp16|bf16", description = "Stored type (default: ${DEFAULT-VALUE}).")
    String dtype;

    @Option(names = "--prefix", defaultValue = "", paramLabel = "PREFIX", description = "Put this before every name, e.g. 'unet.' or 'audio_proj.'.")
    String prefix;

    @Override
    public Integer call() throws Exception {
        DataType type = switch (dtype) {
            case "fp32" -> DataType.FLOAT;
            case "fp16" -> DataType.HALF;
            case "bf16" -> DataType.BFLOAT16;
            default -> throw new BadInputException("--dtype " + dtype + ": expected fp32, fp16 or bf16");
        };
        Path model = Files.isDirectory(checkpoint) ? checkpoint.resolve(Checkpoints.MODEL) : checkpoint;
        if (!Files.isRegularFile(model)) throw new BadInputException(model + ": no such checkpoint model file");
        if (Files.isDirectory(checkpoint) && !Files.exists(checkpoint.resolve(Checkpoints.STATE))) {
            throw new BadInputException(checkpoint + ": incomplete checkpoint (no " + Checkpoints.STATE + "; its write was interrupted)");
        }
        Safetensors.SafetensorsFile f = Safetensors.read(model, null);
        Map<String, INDArray> out = new LinkedHashMap<>();
        f.tensors().forEach((n, a) -> out.put(prefix + n, a.castTo(type)));
        Map<String, String> meta = new LinkedHashMap<>(f.metadata());
        meta.put("format", "pt");
        Safetensors.write(output, out, meta);
        LOG.info("export: " + out.size() + " tensors (" + dtype + ") from " + model + " → " + output);
        return Main.EXIT_OK;
    }
}
