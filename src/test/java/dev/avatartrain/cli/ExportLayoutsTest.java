package dev.avatartrain.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import dev.avatartrain.models.unet.UNet;
import dev.avatartrain.models.unet.UNetConfig;
import dev.avatartrain.models.unet.UNetExportTest;
import dev.avatartrain.models.unet.UNetWeights;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.models.nn.Parity;
import dev.avatartrain.tensors.Safetensors;
import dev.avatartrain.tensors.TorchFiles;
import dev.avatartrain.testing.FormulaWeights;
import dev.avatartrain.testing.Originals;
import dev.avatartrain.train.Checkpoints;
import dev.avatartrain.train.ModelState;

/**
 * {@code export --layout file|diffusers|musetalk} from a checkpoint: each layout loads back into this project's UNet with
 * exactly the checkpoint's values (the fine-tuning path), records the audio positional encoding, and holds diffusers'
 * state dict of the config with the checkpoint's values. The checkpoint's weights are {@link FormulaWeights}, whose
 * output diffusers computed (fixtures/unet/tiny.safetensors, make_formula_fixtures.py): the Java UNet reproduces it.
 * Where the originals are here, the live check loads each layout with the real diffusers code as inference code loads
 * it (check_unet_layouts.py) and compares its output with the Java output.
 */
public class ExportLayoutsTest {
    static final Path PROJECT = Path.of(System.getProperty("avatartrain.project.dir", ".")).toAbsolutePath();

    @Test
    void everyLayoutLoadsBackExactlyAndIntoDiffusers() throws Exception {
        Path dir = PROJECT.resolve("target/export-layouts");
        Files.createDirectories(dir);
        String json = Files.readString(PROJECT.resolve("configuration/unet/tiny.json"));
        UNetConfig cfg = UNetConfig.parse(json, "tiny.json");
        UNet net = UNet.build(cfg, DataType.FLOAT, 11);
        FormulaWeights.fill(net);
        Map<String, Object> info = new LinkedHashMap<>();
        info.put(UNetWeights.PE_KEY, "musetalk");
        info.put(UNetWeights.CONFIG_KEY, json);
        String ckpt;
        try (Storage out = Storage.forUrl(dir.resolve("run").toString(), null)) {
            ckpt = new Checkpoints(out, 2).write(new Checkpoints.State(3, 3, 11, "h", "unet", info),
                    ModelState.of(net, ModelState.DEFAULT_CHUNK_FLOATS));
        }
        Path ck = dir.resolve("run/checkpoints/checkpoint-3");
        assertEquals(0, Main.run("export", "--checkpoint", ck.toString(), "--output", dir.resolve("file.safetensors").toString()));
        assertEquals(0, Main.run("export", "--checkpoint", ck.toString(), "--layout", "diffusers", "--output", dir.resolve("diffusers").toString()));
        assertEquals(0, Main.run("export", "--checkpoint", ck.toString(), "--layout", "musetalk", "--output", dir.resolve("musetalk").toString()));
        assertTrue(Files.isRegularFile(dir.resolve("musetalk/pytorch_model.bin")));
        assertTrue(Files.isRegularFile(dir.resolve("diffusers/diffusion_pytorch_model.safetensors")));

        for (String layout : new String[] {"file.safetensors", "diffusers", "musetalk"}) {
            UNetWeights.Source src = UNetWeights.locate(dir.resolve(layout).toString(), dir, null, null);
            assertEquals("musetalk", src.positionalEncoding(), layout);
            if (!layout.startsWith("file")) assertEquals(cfg, src.config(), layout);
            UNet back = UNet.build(cfg, DataType.FLOAT, 99);
            UNetWeights.load(back, UNetWeights.read(src.weights()), src.weights().toString());
            net.parameters().forEach((n, a) -> assertEquals(a, back.parameters().get(n), layout + " " + n));
        }

        // each layout's file is diffusers' state dict with the formula's values under diffusers' names
        Map<String, Map<String, INDArray>> files = Map.of(
                "file", Safetensors.read(dir.resolve("file.safetensors")).tensors(),
                "diffusers", Safetensors.read(dir.resolve("diffusers/diffusion_pytorch_model.safetensors")).tensors(),
                "musetalk", TorchFiles.loadStateDict(dir.resolve("musetalk/pytorch_model.bin"), DataType.FLOAT));
        for (Map.Entry<String, Map<String, INDArray>> f : files.entrySet()) {
            UNetExportTest.assertDiffusersStateDict("tiny", f.getValue(), f.getKey() + " layout");
            f.getValue().forEach((n, a) -> assertEquals(FormulaWeights.array(n, a.shape(), DataType.FLOAT),
                    a.castTo(DataType.FLOAT), f.getKey() + " layout " + n));
        }
        // ... and the Java UNet with those values computes diffusers' output
        Map<String, INDArray> fx = Safetensors.read(
                PROJECT.resolve("src/test/resources/fixtures/unet/tiny.safetensors")).tensors();
        Map<String, INDArray> io = new LinkedHashMap<>();
        io.put("sample", fx.get("io.sample"));
        io.put("timestep", fx.get("io.timestep"));
        io.put("encoder_hidden_states", fx.get("io.encoder_hidden_states"));
        io.put("out", net.forward(io.get("sample"), io.get("timestep"), io.get("encoder_hidden_states")));
        Parity.assertClose(fx.get("io.out"), io.get("out"), 1e-4, "tiny UNet against diffusers");

        Safetensors.write(dir.resolve("io.safetensors"), io, Map.of());
        Originals.liveCheck("every export layout loads into diffusers as inference code loads it", true,
                "src/test/scripts/check_unet_layouts.py", dir.toString());
    }
}
