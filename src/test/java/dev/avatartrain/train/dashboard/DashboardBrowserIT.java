package dev.avatartrain.train.dashboard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import javax.imageio.ImageIO;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.avatartrain.storage.Storage;

/**
 * The live dashboard rendered by a real browser: headless Chromium (Debian's {@code chromium}, installed by
 * {@code bin/install-debian-packages} when missing) loads the page from a running {@link Dashboard}, its script
 * fetches {@code data.json} and draws the charts; the test reads the resulting DOM and a screenshot
 * ({@code target/dashboard-screenshot.png}, kept for people to look at). Skipped only when Chromium cannot be
 * installed here (exit 3 of the install script).
 */
class DashboardBrowserIT {
    private static final int WIDTH = 1000, HEIGHT = 900;

    @Test
    void chromiumRendersStatusChartsAndTheLatestGrid(@TempDir Path dir) throws Exception {
        String chromium = chromium();
        Files.createDirectories(dir.resolve("validation"));
        ImageIO.write(checkerboard(), "png", dir.resolve("validation/latest.png").toFile());
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        try (Dashboard d = Dashboard.start(port, Storage.forUrl(dir.toString(), null), "browser-test", 100)) {
            List<Map<String, Object>> rows = new ArrayList<>();
            for (int step = 2; step <= 40; step += 2) {
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("step", step);
                r.put("train_loss", 1.0 / step);
                r.put("lr", 1e-4 * (1 - step / 100.0));
                r.put("samples_per_s", 10.0 + step % 3);
                rows.add(r);
                if (step % 10 == 0) rows.add(Map.of("step", step, "val_loss", 1.5 / step));
            }
            d.update(rows);

            String dom = run(chromium, dir, "--dump-dom", d.url());
            assertTrue(dom.contains("step 40 / 100"), "status line in the rendered DOM:\n" + dom);
            assertTrue(dom.contains("val loss 0.03750 (step 40)"), "latest validation loss:\n" + dom);
            assertTrue(dom.contains("samples/s"), dom);
            for (String color : List.of("#1f77b4", "#d62728", "#2ca02c", "#9467bd")) { // train, val, lr, throughput
                assertEquals(1, count(dom, "<polyline fill=\"none\" stroke=\"" + color + "\""), "curve " + color + ":\n" + dom);
            }
            assertTrue(dom.contains("grid.png?v=4"), "the grid image follows the validation rows:\n" + dom);

            Path shot = Path.of("target", "dashboard-screenshot.png").toAbsolutePath();
            Files.deleteIfExists(shot);
            run(chromium, dir, "--screenshot=" + shot, d.url());
            BufferedImage img = ImageIO.read(shot.toFile());
            assertEquals(WIDTH, img.getWidth());
            assertEquals(HEIGHT, img.getHeight());
            assertTrue(pixels(img, 0x1f77b4) > 50, "training-loss curve drawn in the screenshot " + shot);
            assertTrue(pixels(img, 0xd62728) > 20, "validation-loss curve drawn in the screenshot " + shot);
            assertTrue(pixels(img, 0x9467bd) > 50, "throughput curve drawn in the screenshot " + shot);
            assertTrue(pixels(img, 0xff0000) > 1000 && pixels(img, 0x00c000) > 1000,
                    "validation grid image shown in the screenshot " + shot);
        }
    }

    /** The Chromium binary, installing Debian's package when it is missing. */
    private static String chromium() throws IOException, InterruptedException {
        if (onPath("chromium")) return "chromium";
        Path project = Path.of(System.getProperty("avatartrain.project.dir", ".")).toAbsolutePath();
        Process p = new ProcessBuilder("bash", "bin/install-debian-packages", "chromium").directory(project.toFile())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(15, TimeUnit.MINUTES), "installing chromium did not finish:\n" + out);
        assertEquals(0, p.exitValue(), "installing chromium failed:\n" + out);
        return "chromium";
    }

    private static boolean onPath(String cmd) throws IOException, InterruptedException {
        return new ProcessBuilder("bash", "-c", "command -v " + cmd).start().waitFor() == 0;
    }

    /**
     * Headless Chromium on {@code url}. The virtual time budget lets the page's fetch and first drawing finish
     * before the DOM is dumped or the screenshot taken. {@code --no-sandbox}: CI runs as root.
     */
    private static String run(String chromium, Path dir, String action, String url) throws IOException, InterruptedException {
        List<String> cmd = List.of(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--hide-scrollbars", "--user-data-dir=" + dir.resolve("chromium-profile"),
                "--window-size=" + WIDTH + "," + HEIGHT, "--virtual-time-budget=5000", action, url);
        Process p = new ProcessBuilder(cmd).redirectError(dir.resolve("chromium.log").toFile()).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(2, TimeUnit.MINUTES), "chromium did not finish: " + cmd);
        assertEquals(0, p.exitValue(), "chromium failed: " + cmd + "\n" + Files.readString(dir.resolve("chromium.log")));
        return out;
    }

    /** A 256×256 red/green checkerboard standing in for a validation grid. */
    private static BufferedImage checkerboard() {
        BufferedImage img = new BufferedImage(256, 256, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 256; y++)
            for (int x = 0; x < 256; x++) img.setRGB(x, y, ((x / 32 + y / 32) % 2 == 0) ? 0xff0000 : 0x00c000);
        return img;
    }

    /** Pixels within a small distance of {@code rgb} (antialiasing and colour management shift edges a little). */
    private static int pixels(BufferedImage img, int rgb) {
        int n = 0;
        for (int y = 0; y < img.getHeight(); y++)
            for (int x = 0; x < img.getWidth(); x++) {
                int c = img.getRGB(x, y);
                int dr = ((c >> 16) & 255) - ((rgb >> 16) & 255), dg = ((c >> 8) & 255) - ((rgb >> 8) & 255), db = (c & 255) - (rgb & 255);
                if (dr * dr + dg * dg + db * db < 3 * 12 * 12) n++;
            }
        return n;
    }

    private static int count(String s, String sub) {
        int n = 0;
        for (int i = s.indexOf(sub); i >= 0; i = s.indexOf(sub, i + 1)) n++;
        return n;
    }
}
