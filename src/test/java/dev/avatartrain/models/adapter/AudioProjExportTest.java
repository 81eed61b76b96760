package dev.avatartrain.models.adapter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.models.nn.Parity;
import dev.avatartrain.tensors.Safetensors;
import dev.avatartrain.models.nn.Backend;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Weights move both ways: the fixture's weights load with and without InfiniteTalk's {@code audio_proj.} prefix,
 * strictly; exports (fp32, fp16 with the prefix) are the fixture's PyTorch state dict, names and values. Where torch
 * is here, the live check also loads them into the PyTorch model with {@code strict=True} and compares its output with
 * the fixture's (make_adapter_fixtures.py --check-export).
 */
class AudioProjExportTest {
    static final Path PROJECT = Path.of(System.getProperty("avatartrain.project.dir", ".")).toAbsolutePath();

    @Test
    void loadsWithPrefixAndStrictly() {
        AudioProjParityTest.Fixture fx = AudioProjParityTest.fixture("w5_vs4_norm");
        Map<String, INDArray> prefixed = new LinkedHashMap<>();
        fx.weights().forEach((k, v) -> prefixed.put("audio_proj." + k, v));
        prefixed.put("blocks.0.self_attn.q.weight", fx.weights().get("proj2.weight")); // rest of a Wan checkpoint
        assertEquals("audio_proj.", AudioProjModel.prefixOf(prefixed));
        AudioProjModel net = AudioProjModel.build(fx.config(), DataType.FLOAT, 9);
        net.load(prefixed, "wan.safetensors");
        Map<String, INDArray> ph = net.placeholders(fx.batch(DataType.FLOAT));
        Parity.assertClose(fx.tensors().get("io.out"), net.forward(ph, AudioProjModel.OUT).get(AudioProjModel.OUT),
                1e-4, "prefixed load");

        Map<String, INDArray> bad = new LinkedHashMap<>(fx.weights());
        bad.remove("proj2.bias");
        bad.put("proj4.weight", fx.weights().get("proj2.weight"));
        bad.put("norm.weight", fx.weights().get("proj2.bias"));
        BadInputException e = assertThrows(BadInputException.class, () -> net.load(bad, "bad.safetensors"));
        assertTrue(e.getMessage().contains("bad.safetensors") && e.getMessage().contains("missing (proj2.bias)")
                && e.getMessage().contains("unexpected (proj4.weight)")
                && e.getMessage().contains("norm.weight is [16], expected [8]"), e.getMessage());
    }

    @Test
    void exportLoadsStrictlyIntoPyTorch() throws IOException, InterruptedException {
        Path dir = PROJECT.resolve("target/adapter-export");
        Files.createDirectories(dir);
        for (String name : AudioProjParityTest.CASES) {
            AudioProjParityTest.Fixture fx = AudioProjParityTest.fixture(name);
            AudioProjModel net = AudioProjParityTest.load(fx, Backend.TAPE);
            boolean half = name.equals("w5_vs4_norm");
            Map<String, INDArray> w = net.export(half ? DataType.HALF : DataType.FLOAT, half ? "audio_proj." : "");
            assertEquals(net.parameterNames().size(), w.size());
            assertEquals(half ? DataType.HALF : DataType.FLOAT, w.values().iterator().next().dataType());
            Path file = dir.resolve(name + ".safetensors");
            Safetensors.write(file, w, Map.of("format", "pt"));
            // the fixture's weights are PyTorch's state dict (fp16-exact values): the export is it, with the prefix
            Map<String, INDArray> back = Safetensors.read(file).tensors();
            String prefix = half ? "audio_proj." : "";
            assertEquals(new java.util.TreeSet<>(fx.weights().keySet().stream().map(k -> prefix + k).toList()),
                    new java.util.TreeSet<>(back.keySet()), name + ": PyTorch's names");
            for (Map.Entry<String, INDArray> e : fx.weights().entrySet()) {
                INDArray b = back.get(prefix + e.getKey());
                assertEquals(half ? DataType.HALF : DataType.FLOAT, b.dataType(), e.getKey());
                assertEquals(e.getValue().castTo(DataType.FLOAT), b.castTo(DataType.FLOAT), name + " " + e.getKey());
            }
        }
        String log = dev.avatartrain.testing.Originals.liveCheck(
                "exported adapters load strictly into PyTorch's AudioProj", false,
                "src/test/scripts/make_adapter_fixtures.py", "--check-export", dir.toString());
        if (log != null) {
            assertTrue(log.contains("w5_vs4_norm loaded strictly") && log.contains("prefix 'audio_proj.'"), log);
        }
    }
}
