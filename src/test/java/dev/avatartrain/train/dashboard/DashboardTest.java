package dev.avatartrain.train.dashboard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
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

    @Test
    void bindsOneAddressAsksForTheTokenAndRefusesOtherOrigins(@TempDir Path dir) throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        try (Dashboard d = Dashboard.start("127.0.0.1", port, "s3cret", Storage.forUrl(dir.toString(), null), "token-test", 10)) {
            assertEquals("http://127.0.0.1:" + port + "/", d.url(), "the printed URL is the bound address");
            String other = otherLocalAddress();
            if (other != null) {
                assertThrows(java.net.ConnectException.class, () -> new java.net.Socket(other, port).close(),
                        "not listening on " + other);
            }
            d.update(List.of(Map.of("step", 1, "train_loss", 0.5)));
            get(d.url(), 401);
            get(d.url() + "data.json", 401);
            get(d.url() + "data.json?token=wrong", 401);
            get(d.url() + "grid.png", 401);
            String page = get(d.url() + "?token=s3cret", 200);
            assertTrue(page.contains("token"), "the page passes its token on to data.json and grid.png");
            assertEquals(1, new ObjectMapper().readTree(get(d.url() + "data.json?token=s3cret", 200)).get("step").asInt());
            assertEquals(200, status(d.url() + "data.json", Map.of("Authorization", "Bearer s3cret")));
            // a page of another origin that knows the token still cannot read the data
            assertEquals(403, status(d.url() + "data.json?token=s3cret", Map.of("Origin", "http://evil.example")));
            assertEquals(403, status(d.url() + "data.json?token=s3cret", Map.of("Sec-Fetch-Site", "cross-site")));
            assertEquals(200, status(d.url() + "data.json?token=s3cret", Map.of("Origin", "http://127.0.0.1:" + port)));
            // DNS rebinding: a page whose own name now points here sends that name as Host and as Origin
            String rebound = "rebound.evil.example:" + port;
            assertEquals("HTTP/1.1 403 Forbidden", rawStatus(port, "/data.json?token=s3cret", rebound, "http://" + rebound));
            assertEquals("HTTP/1.1 200 OK", rawStatus(port, "/data.json?token=s3cret", "localhost:" + port, "http://localhost:" + port));
        }
        assertTrue(Dashboard.knownHost("127.0.0.1:1", "h") && Dashboard.knownHost("h:1", "h") && Dashboard.knownHost("[::1]:1", "h"));
        assertFalse(Dashboard.knownHost("evil.example:1", "h"));
        assertTrue(Dashboard.sameOrigin(null, "same-origin", "h:1"));
        assertFalse(Dashboard.sameOrigin("http://h:2", null, "h:1"));
    }

    /** The status line of a GET sent over a plain socket (java.net's clients do not let a test set Host). */
    private static String rawStatus(int port, String path, String host, String origin) throws Exception {
        try (java.net.Socket s = new java.net.Socket(java.net.InetAddress.getLoopbackAddress(), port)) {
            s.getOutputStream().write(("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nOrigin: " + origin
                    + "\r\nConnection: close\r\n\r\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            return new java.io.BufferedReader(new java.io.InputStreamReader(s.getInputStream(),
                    java.nio.charset.StandardCharsets.US_ASCII)).readLine();
        }
    }

    /** A non-loopback address of this machine, or null when it has none. */
    private static String otherLocalAddress() throws Exception {
        for (var nic : java.util.Collections.list(java.net.NetworkInterface.getNetworkInterfaces())) {
            for (var a : java.util.Collections.list(nic.getInetAddresses())) {
                if (!a.isLoopbackAddress() && a instanceof java.net.Inet4Address) return a.getHostAddress();
            }
        }
        return null;
    }

    /** The status of a GET with {@code headers} (java.net.http: HttpURLConnection silently drops {@code Origin}). */
    static int status(String url, Map<String, String> headers) throws Exception {
        var req = java.net.http.HttpRequest.newBuilder(URI.create(url));
        headers.forEach(req::header);
        return java.net.http.HttpClient.newHttpClient().send(req.build(), java.net.http.HttpResponse.BodyHandlers.discarding()).statusCode();
    }

    static String get(String url, int status) throws Exception {
        HttpURLConnection c = (HttpURLConnection) URI.create(url).toURL().openConnection();
        assertEquals(status, c.getResponseCode(), url);
        try (var in = status < 400 ? c.getInputStream() : c.getErrorStream()) {
            return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }
}
