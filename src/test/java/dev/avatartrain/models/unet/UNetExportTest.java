package dev.avatartrain.models.unet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import dev.avatartrain.tensors.Safetensors;
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
        // ../shared from the repository root; a git worktree one level deeper finds it at ../../shared
        for (Path p : new Path[] {PROJECT.resolve("../shared"), PROJECT.resolve("../../shared")}) {
            if (Files.isDirectory(p.resolve("reference"))) {
                return p.normalize();
            }
        }
        return null;
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
            UNet net = UNetParityTest.load(c.getKey(), fx);
            Map<String, INDArray> w = net.export(c.getValue());
            assertEquals(net.parameterNames().size(), w.size());
            assertEquals(c.getValue(), w.values().iterator().next().dataType());
            Safetensors.write(dir.resolve(c.getKey() + ".safetensors"), w, Map.of("format", "pt"));
        }
        Path python = Path.of("/usr/bin/python3");
        assumeTrue(Files.isExecutable(python), "Debian /usr/bin/python3 (with torch) is not installed");
        Path shared = shared();
        assumeTrue(shared != null, "../shared/reference (the diffusers original) is absent: strict load not checked");
        Process p = new ProcessBuilder(python.toString(), "src/test/scripts/make_unet_fixtures.py", "--check-export",
                dir.toString()).directory(PROJECT.toFile()).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assumeTrue(p.waitFor(5, TimeUnit.MINUTES), "python did not finish");
        assumeTrue(!log.contains("No module named 'torch'"), "python3-torch is not installed");
        System.out.println(log);
        assertEquals(0, p.exitValue(), log);
    }
}
