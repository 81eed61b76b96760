package dev.avatartrain.tensors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The real pretrained TAEF2 weights the demo ships (float16 torch.save archives in configuration/demo/taef2) read
 * through the restricted reader give exactly the values PyTorch reads (checksums made by make_tensor_fixtures.py).
 */
class PretrainedWeightsTest {
    /** The folder of the TAEF2 weights the project ships (MIT, from madebyollin/taesd). */
    static Path taef2() {
        return dev.avatartrain.testing.Originals.PROJECT.resolve("configuration/demo/taef2");
    }

    @ParameterizedTest
    @ValueSource(strings = {"encoder", "decoder"})
    void taef2WeightsLoadWithPytorchsExactValues(String part) throws IOException {
        Path file = taef2().resolve("taef2_" + part + ".pth");
        LinkedHashMap<String, INDArray> sd = TorchFiles.loadStateDict(file, null);
        JsonNode expected = new ObjectMapper().readTree(TensorFilesTest.FIX.resolve("taef2_checksums.json").toFile()).get(part);
        List<String> names = new ArrayList<>();
        expected.fieldNames().forEachRemaining(names::add);
        assertEquals(79, sd.size());
        assertEquals(names.stream().sorted().toList(), sd.keySet().stream().sorted().toList());
        for (String name : names) {
            JsonNode e = expected.get(name);
            INDArray t = sd.get(name);
            assertEquals(DataType.HALF, t.dataType(), name);
            long[] shape = new long[e.get("shape").size()];
            for (int i = 0; i < shape.length; i++) shape[i] = e.get("shape").get(i).asLong();
            assertArrayEquals(shape, t.shape(), name);
            INDArray d = t.castTo(DataType.DOUBLE);
            assertEquals(e.get("first").asDouble(), d.reshape(-1).getDouble(0), 0.0, name + " first value (exact)");
            assertEquals(e.get("sum").asDouble(), d.sumNumber().doubleValue(), 1e-9 * Math.max(1, Math.abs(e.get("sum").asDouble())), name + " sum");
            assertEquals(e.get("sumsq").asDouble(), Transforms.pow(d, 2).sumNumber().doubleValue(), 1e-9 * Math.max(1, e.get("sumsq").asDouble()), name + " sum of squares");
        }
    }
}
