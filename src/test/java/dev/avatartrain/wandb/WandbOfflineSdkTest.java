package dev.avatartrain.wandb;

import static org.junit.jupiter.api.Assertions.*;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The sidecar with the <b>real</b> wandb SDK in offline mode ({@code WANDB_MODE=offline}), the run read back with
 * wandb's own reader (src/test/scripts/read_wandb_offline.py). It runs where {@code python3 -c "import wandb, PIL"}
 * works and is reported as not run (with the import error) elsewhere, e.g. where wandb's dependencies do not install.
 */
class WandbOfflineSdkTest {
    @TempDir
    Path dir;

    @AfterEach
    void clear() {
        System.clearProperty("AVATAR_TRAIN_PYTHON");
    }

    private static String run(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return p.waitFor() == 0 ? out : "FAILED: " + out;
    }

    @Test
    void configMetricsImagesAndTheCheckpointReachAnOfflineRunOfTheRealSdk() throws Exception {
        String version = run(List.of("python3", "-c", "import wandb, PIL; print(wandb.__version__)"));
        Assumptions.assumeFalse(version.startsWith("FAILED"), "not run: the wandb SDK (with Pillow) does not import here: "
                + version.lines().reduce((a, b) -> b).orElse(""));

        Path wrapper = dir.resolve("python-offline");
        Files.writeString(wrapper, "#!/bin/sh\nWANDB_MODE=offline WANDB_DIR='" + dir + "' WANDB_SILENT=true exec python3 \"$@\"\n");
        Files.setPosixFilePermissions(wrapper, PosixFilePermissions.fromString("rwxr-xr-x"));
        System.setProperty("AVATAR_TRAIN_PYTHON", wrapper.toString());

        WandbSidecar s = WandbSidecar.start("offline-test", "offline", Map.of("train", Map.of("max_train_steps", 3)));
        assertNotNull(s, "the sidecar starts with the real SDK " + version);
        for (int step = 1; step <= 3; step++) s.log(step, Map.of("train/loss", 1.0 / step));
        BufferedImage img = new BufferedImage(8, 4, BufferedImage.TYPE_INT_RGB);
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(img, "png", png);
        s.image(3, "validation/grid", png.toByteArray(), "step 3");
        Path ckpt = Files.createDirectories(dir.resolve("checkpoint-3"));
        Files.writeString(ckpt.resolve("state.json"), "{}");
        s.artifact("offline-test-checkpoint", "model", ckpt.toUri().toString());
        s.finish(0);

        String read = run(List.of("python3", Path.of("src/test/scripts/read_wandb_offline.py").toString(), dir.toString()));
        assertFalse(read.startsWith("FAILED"), read);
        JsonNode got = new ObjectMapper().readTree(read.lines().reduce((a, b) -> b).orElseThrow());
        assertEquals(3, got.at("/config/train").get("max_train_steps").asInt(), got.toString());
        List<Double> losses = new java.util.ArrayList<>();
        got.get("history").forEach(h -> { if (h.has("train/loss")) losses.add(h.get("train/loss").asDouble()); });
        assertEquals(List.of(1.0, 0.5, 1.0 / 3), losses);
        assertTrue(got.get("history").toString().contains("validation/grid"), got.toString());
        assertEquals(0, got.get("exit_code").asInt());
    }
}
