package dev.avatartrain.train.dashboard;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.avatartrain.storage.Storage;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;

/**
 * The live training dashboard: the driver serves {@code /} (a self-refreshing page: loss curves, learning rate,
 * throughput, step and ETA, the latest validation grid), {@code /data.json} (the metrics rows so far) and
 * {@code /grid.png} ({@code validation/latest.png} of the run). Plain HTML and inline JS, nothing from outside.
 */
public final class Dashboard implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpServer server;
    private final Storage out;
    private final String title;
    private final long maxSteps;
    private final long startedNanos = System.nanoTime();
    private volatile List<Map<String, Object>> rows = List.of();
    private volatile Long firstStep;

    private Dashboard(HttpServer server, Storage out, String title, long maxSteps) {
        this.server = server;
        this.out = out;
        this.title = title;
        this.maxSteps = maxSteps;
    }

    /** Starts serving on {@code port} (all interfaces); returns null when {@code port} is 0 (off). */
    public static Dashboard start(int port, Storage outputDir, String title, long maxSteps) throws IOException {
        if (port <= 0) return null;
        HttpServer s;
        try {
            s = HttpServer.create(new InetSocketAddress(port), 0);
        } catch (java.net.BindException e) {
            System.out.println("train: live dashboard off: port " + port + " is in use (" + e.getMessage() + "); set train.dashboard_port");
            return null;
        }
        Dashboard d = new Dashboard(s, outputDir, title, maxSteps);
        s.createContext("/", d::page);
        s.createContext("/data.json", d::data);
        s.createContext("/grid.png", d::grid);
        s.setExecutor(Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "dashboard");
            t.setDaemon(true);
            return t;
        }));
        // started from a daemon thread so the server's dispatcher thread is a daemon too: a run that fails
        // before close() still lets the JVM exit
        Thread starter = new Thread(s::start, "dashboard-start");
        starter.setDaemon(true);
        starter.start();
        try {
            starter.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return d;
    }

    public int port() {
        return server.getAddress().getPort();
    }

    public String url() {
        return "http://localhost:" + port() + "/";
    }

    /** Publishes a snapshot of the metrics rows (call after each row). */
    public void update(List<Map<String, Object>> metricsRows) {
        List<Map<String, Object>> copy = new ArrayList<>();
        for (Map<String, Object> r : metricsRows) copy.add(new LinkedHashMap<>(r));
        if (firstStep == null && !copy.isEmpty()) firstStep = step(copy.get(copy.size() - 1));
        rows = List.copyOf(copy);
    }

    private static long step(Map<String, Object> r) {
        return r.get("step") instanceof Number n ? n.longValue() : 0;
    }

    /** The data endpoint's content: title, max_steps, step, eta_s, rows. */
    public Map<String, Object> snapshot() {
        List<Map<String, Object>> rs = rows;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("title", title);
        m.put("max_steps", maxSteps);
        long step = rs.isEmpty() ? 0 : step(rs.get(rs.size() - 1));
        m.put("step", step);
        double elapsed = (System.nanoTime() - startedNanos) / 1e9;
        Long f = firstStep;
        long done = f == null ? 0 : step - f;
        m.put("elapsed_s", elapsed);
        m.put("eta_s", done > 0 ? elapsed / done * Math.max(0, maxSteps - step) : null);
        m.put("rows", rs);
        return m;
    }

    private void page(HttpExchange x) throws IOException {
        if (!x.getRequestURI().getPath().equals("/")) {
            send(x, 404, "text/plain", "not found".getBytes(StandardCharsets.UTF_8));
            return;
        }
        send(x, 200, "text/html; charset=utf-8", DashboardPage.html(title).getBytes(StandardCharsets.UTF_8));
    }

    private void data(HttpExchange x) throws IOException {
        send(x, 200, "application/json", JSON.writeValueAsBytes(snapshot()));
    }

    private void grid(HttpExchange x) throws IOException {
        byte[] png = null;
        try {
            if (out.exists("validation/latest.png")) png = out.readAll("validation/latest.png");
        } catch (IOException e) {
            png = null;
        }
        if (png == null) send(x, 404, "text/plain", "no validation grid yet".getBytes(StandardCharsets.UTF_8));
        else send(x, 200, "image/png", png);
    }

    private static void send(HttpExchange x, int status, String type, byte[] body) throws IOException {
        x.getResponseHeaders().set("Content-Type", type);
        x.getResponseHeaders().set("Cache-Control", "no-store");
        x.sendResponseHeaders(status, body.length);
        try (OutputStream o = x.getResponseBody()) {
            o.write(body);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
