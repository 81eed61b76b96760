package dev.avatartrain.models.unet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.avatartrain.models.nn.Backend;
import dev.avatartrain.tensors.Safetensors;
import dev.avatartrain.testing.Originals;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Weights exported from Java are diffusers' own {@code UNet2DConditionModel} state dict: the fixture's names, shapes
 * and values (the fixture's weights were read from diffusers' {@code state_dict()}, and its output computed with
 * them), in the requested type. Where the originals are here, the live check also loads the exported files into
 * diffusers with {@code strict=True} (make_unet_fixtures.py --check-export).
 */
public class UNetExportTest {
    static final Path PROJECT = Path.of(System.getProperty("avatartrain.project.dir", ".")).toAbsolutePath();

    /**
     * {@code weights} has exactly the names and shapes of diffusers' state dict for
     * configuration/unet/{@code config}.json (stored by make_unet_fixtures.py in names_{@code config}.json) and only
     * finite values.
     */
    public static void assertDiffusersStateDict(String config, Map<String, INDArray> weights, String what)
            throws IOException {
        JsonNode names = new ObjectMapper().readTree(UNetParityTest.DIR.resolve("names_" + config + ".json").toFile());
        Map<String, String> expected = new TreeMap<>();
        names.fields().forEachRemaining(e -> {
            List<Long> shape = new ArrayList<>();
            e.getValue().forEach(n -> shape.add(n.asLong()));
            expected.put(e.getKey(), shape.toString());
        });
        Map<String, String> got = new TreeMap<>();
        weights.forEach((k, v) -> got.put(k, Arrays.toString(v.shape())));
        assertEquals(expected, got, what + ": names and shapes of diffusers' UNet2DConditionModel for " + config);
        for (Map.Entry<String, INDArray> e : weights.entrySet()) {
            INDArray d = e.getValue().castTo(DataType.DOUBLE);
            assertEquals(0, d.isNaN().castTo(DataType.INT).sumNumber().intValue()
                    + d.isInfinite().castTo(DataType.INT).sumNumber().intValue(), what + " " + e.getKey() + " finite");
        }
    }

    @Test
    void exportIsDiffusersStateDict() throws IOException {
        Path dir = PROJECT.resolve("target/unet-export");
        Files.createDirectories(dir);
        Map<String, DataType> cases = Map.of("conv_int_heads", DataType.FLOAT, "linear_list_heads", DataType.HALF,
                "relu_one_head", DataType.FLOAT);
        for (Map.Entry<String, DataType> c : cases.entrySet()) {
            Map<String, INDArray> fx = Safetensors.read(UNetParityTest.DIR.resolve(c.getKey() + ".safetensors"))
                    .tensors();
            UNet net = UNetParityTest.load(c.getKey(), fx, Backend.TAPE);
            Map<String, INDArray> w = net.export(c.getValue());
            Path file = dir.resolve(c.getKey() + ".safetensors");
            Safetensors.write(file, w, Map.of("format", "pt"));
            Map<String, INDArray> back = Safetensors.read(file).tensors();
            Map<String, INDArray> expected = new TreeMap<>();
            fx.forEach((k, v) -> {
                if (k.startsWith("unet.")) expected.put(k.substring(5), v);
            });
            assertEquals(expected.keySet(), new TreeMap<>(back).keySet(), c.getKey() + ": diffusers' names");
            for (Map.Entry<String, INDArray> e : expected.entrySet()) {
                INDArray b = back.get(e.getKey());
                assertEquals(c.getValue(), b.dataType(), e.getKey());
                assertArrayEquals(e.getValue().shape(), b.shape(), e.getKey());
                assertEquals(e.getValue().castTo(DataType.FLOAT), b.castTo(DataType.FLOAT),
                        c.getKey() + " " + e.getKey());
            }
        }
        Originals.liveCheck("exported UNets load strictly into diffusers (make_unet_fixtures.py --check-export)", true,
                "src/test/scripts/make_unet_fixtures.py", "--check-export", dir.toString());
    }
}
