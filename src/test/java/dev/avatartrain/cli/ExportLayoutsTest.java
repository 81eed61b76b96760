package dev.avatartrain.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import dev.avatartrain.models.unet.UNet;
import dev.avatartrain.models.unet.UNetConfig;
import dev.avatartrain.models.unet.UNetExportTest;
import dev.avatartrain.models.unet.UNetWeights;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.tensors.Safetensors;
import dev.avatartrain.train.Checkpoints;
import dev.avatartrain.train.ModelState;

/**
 * {@code export --layout file|diffusers|musetalk} from a checkpoint: each layout loads back into this project's UNet with
 * exactly the checkpoint's values (the fine-tuning path), records the audio positional encoding, and loads with the real
 * diffusers code in ../shared/reference as inference code loads it (check_unet_layouts.py), reproducing the Java output.
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

        // inputs and the Java output, for the python side
        Nd4j.getRandom().setSeed(5);
        Map<String, INDArray> io = new LinkedHashMap<>();
        io.put("sample", Nd4j.randn(DataType.FLOAT, 2, 8, 8, 8));
        io.put("timestep", Nd4j.zeros(DataType.FLOAT, 2));
        io.put("encoder_hidden_states", Nd4j.randn(DataType.FLOAT, 2, 5, 32));
        io.put("out", net.forward(io.get("sample"), io.get("timestep"), io.get("encoder_hidden_states")));
        Safetensors.write(dir.resolve("io.safetensors"), io, Map.of());

        Path python = Path.of("/usr/bin/python3");
        assertTrue(Files.isExecutable(python), "Debian /usr/bin/python3 with python3-torch is needed to check the layouts with diffusers");
        assertTrue(UNetExportTest.shared() != null, "../shared/reference (the diffusers original) is needed to check the layouts");
        Process p = new ProcessBuilder(python.toString(), "src/test/scripts/check_unet_layouts.py", dir.toString())
                .directory(PROJECT.toFile()).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "python did not finish");
        System.out.println(log);
        assertEquals(0, p.exitValue(), log);
    }
}
