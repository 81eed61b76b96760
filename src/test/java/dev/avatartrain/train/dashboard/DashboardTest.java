package dev.avatartrain.train.dashboard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.HttpURLConnection;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.avatartrain.storage.Storage;

/** The live dashboard over real HTTP: page, data endpoint with the metrics rows and ETA, the latest grid. */
class DashboardTest {
    @Test
    void servesPageDataAndTheLatestGrid(@TempDir Path dir) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        try (Dashboard d = Dashboard.start(port, Storage.forUrl(dir.toString(), null), "unet-test", 10)) {
            assertEquals(port, d.port());
            String page = get(d.url(), 200);
            assertTrue(page.contains("unet-test") && page.contains("data.json"), page);
            get(d.url() + "grid.png", 404);

            d.update(List.of(Map.of("step", 0, "val_loss", 0.5)));
            d.update(List.of(Map.of("step", 0, "val_loss", 0.5), Map.of("step", 2, "train_loss", 0.4, "lr", 1e-3)));
            JsonNode data = new ObjectMapper().readTree(get(d.url() + "data.json", 200));
            assertEquals(2, data.get("step").asLong());
            assertEquals(10, data.get("max_steps").asLong());
            assertEquals(2, data.get("rows").size());
            assertEquals(0.4, data.get("rows").get(1).get("train_loss").asDouble(), 0);
            assertTrue(data.get("eta_s").isNumber());

            Files.createDirectories(dir.resolve("validation"));
            byte[] png = {(byte) 0x89, 'P', 'N', 'G', 1, 2, 3};
            Files.write(dir.resolve("validation/latest.png"), png);
            assertEquals(new String(png, StandardCharsets.ISO_8859_1), get(d.url() + "grid.png", 200));
        }
        assertEquals(null, Dashboard.start(0, Storage.forUrl(dir.toString(), null), "off", 1));
    }

    static String get(String url, int status) throws Exception {
        HttpURLConnection c = (HttpURLConnection) URI.create(url).toURL().openConnection();
        assertEquals(status, c.getResponseCode(), url);
        try (var in = status < 400 ? c.getInputStream() : c.getErrorStream()) {
            return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }
}
