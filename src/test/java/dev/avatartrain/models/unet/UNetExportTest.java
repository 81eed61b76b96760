package dev.avatartrain.models.unet;

import dev.avatartrain.testing.ReferencePython;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import dev.avatartrain.tensors.Safetensors;
import dev.avatartrain.models.nn.Backend;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Weights exported from Java load back into the real diffusers {@code UNet2DConditionModel} with
 * {@code strict=True} and reproduce the fixture's output (checked by make_unet_fixtures.py --check-export).
 * Skips where Debian's python3 with torch or ../shared/reference is absent.
 */
public class UNetExportTest {
    static final Path PROJECT = Path.of(System.getProperty("avatartrain.project.dir", ".")).toAbsolutePath();

    public static Path shared() {
        return ReferencePython.shared();
    }

    @Test
    void exportLoadsStrictlyIntoDiffusers() throws IOException, InterruptedException {
        Path dir = PROJECT.resolve("target/unet-export");
        Files.createDirectories(dir);
        Map<String, DataType> cases = Map.of("conv_int_heads", DataType.FLOAT, "linear_list_heads", DataType.HALF,
                "relu_one_head", DataType.FLOAT);
        for (Map.Entry<String, DataType> c : cases.entrySet()) {
            Map<String, INDArray> fx = Safetensors.read(UNetParityTest.DIR.resolve(c.getKey() + ".safetensors"))
                    .tensors();
            UNet net = UNetParityTest.load(c.getKey(), fx, Backend.TAPE);
            Map<String, INDArray> w = net.export(c.getValue());
            assertEquals(net.parameterNames().size(), w.size());
            assertEquals(c.getValue(), w.values().iterator().next().dataType());
            Safetensors.write(dir.resolve(c.getKey() + ".safetensors"), w, Map.of("format", "pt"));
        }
        String log = ReferencePython.runScript("src/test/scripts/make_unet_fixtures.py", "--check-export", dir.toString());
        System.out.println(log);
    }
}
