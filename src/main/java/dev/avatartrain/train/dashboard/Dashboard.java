package dev.avatartrain.train.dashboard;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.avatartrain.storage.Storage;

import java.io.IOException;
import java.net.InetAddress;
import java.net.URLDecoder;
import java.security.MessageDigest;
import java.util.function.Supplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.avatartrain.config.TrainConfig;
import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.train.TrainingListener;
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
 *
 * <p>Safe to leave running: it listens on one address (the driver's, unless {@code train.dashboard_bind} says
 * otherwise), answers {@code /data.json} only to its own pages (a request from a page of another origin is refused),
 * sets no CORS header, and with {@code train.dashboard_token} answers only requests that carry the token
 * ({@code ?token=…}, which the page passes on, or {@code Authorization: Bearer …}).
 */
public final class Dashboard implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Dashboard.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpServer server;
    private final Storage out;
    private final String title;
    private final long maxSteps;
    private final String host;
    private final byte[] token;
    private final long startedNanos = System.nanoTime();
    private volatile List<Map<String, Object>> rows = List.of();
    private volatile Long firstStep;

    private Dashboard(HttpServer server, Storage out, String title, long maxSteps, String host, String token) {
        this.server = server;
        this.out = out;
        this.title = title;
        this.maxSteps = maxSteps;
        this.host = host;
        this.token = token == null || token.isEmpty() ? null : token.getBytes(StandardCharsets.UTF_8);
    }

    /**
     * The dashboard of a training run as a listener (updated after every round and validation, closed with the run),
     * or null when {@code train.dashboard_port} is 0 or the port is taken.
     *
     * @param driverHost the driver's address ({@code spark.driver.host}), used when {@code dashboard_bind} is empty
     */
    public static TrainingListener listener(TrainConfig t, String driverHost, Storage outputDir, String title,
                                            Supplier<List<Map<String, Object>>> rows) throws IOException {
        String bind = t.dashboardBind().isBlank() ? driverHost : t.dashboardBind();
        Dashboard d = start(bind, t.dashboardPort(), t.dashboardToken(), outputDir, title, t.maxTrainSteps());
        if (d == null) return null;
        LOG.info("train: live dashboard at {}{}", d.url(), d.token == null ? "" : "?token=<train.dashboard_token>");
        return new TrainingListener() {
            @Override
            public void started(Start s) {
                d.update(rows.get());
            }

            @Override
            public void round(Round r) {
                d.update(rows.get());
            }

            @Override
            public void validated(long step, Map<String, Object> values) {
                d.update(rows.get());
            }

            @Override
            public void close() {
                d.close();
            }
        };
    }

    /** Starts serving on {@code port} of every interface, without a token (tests); null when {@code port} is 0. */
    public static Dashboard start(int port, Storage outputDir, String title, long maxSteps) throws IOException {
        return start("", port, "", outputDir, title, maxSteps);
    }

    /**
     * Starts serving on {@code bind}:{@code port} ({@code bind} a host name or address; empty or {@code 0.0.0.0}: every
     * interface); null when {@code port} is 0 (off) or taken (logged).
     *
     * @param token required on every request when not empty
     */
    public static Dashboard start(String bind, int port, String token, Storage outputDir, String title, long maxSteps) throws IOException {
        if (port <= 0) return null;
        boolean any = bind == null || bind.isBlank() || bind.equals("0.0.0.0") || bind.equals("::");
        InetSocketAddress address;
        try {
            address = any ? new InetSocketAddress(port) : new InetSocketAddress(InetAddress.getByName(bind), port);
        } catch (java.net.UnknownHostException e) {
            throw new BadInputException("train.dashboard_bind: cannot resolve \"" + bind + "\" (" + e.getMessage()
                    + "); give an address of this machine, or 0.0.0.0 for every interface");
        }
        HttpServer s;
        try {
            s = HttpServer.create(address, 0);
        } catch (java.net.BindException e) {
            LOG.warn("train: live dashboard off: cannot listen on {}:{} ({}); set train.dashboard_port or train.dashboard_bind",
                    any ? "*" : bind, port, e.getMessage());
            return null;
        }
        String host = any ? canonicalHost() : bind;
        Dashboard d = new Dashboard(s, outputDir, title, maxSteps, host, token);
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

    private static String canonicalHost() {
        try {
            return InetAddress.getLocalHost().getCanonicalHostName();
        } catch (IOException e) {
            return "localhost";
        }
    }

    public int port() {
        return server.getAddress().getPort();
    }

    /** The page's address (without the token): the bound host, or this machine's name when bound to every interface. */
    public String url() {
        String h = host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
        return "http://" + h + ":" + port() + "/";
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

    /** Whether the request carries the token (always true without one); answers 401 when not. */
    private boolean authorised(HttpExchange x) throws IOException {
        if (token == null) return true;
        String given = null;
        String auth = x.getRequestHeaders().getFirst("Authorization");
        if (auth != null && auth.startsWith("Bearer ")) given = auth.substring(7).strip();
        String query = x.getRequestURI().getRawQuery();
        if (given == null && query != null) {
            for (String kv : query.split("&")) {
                if (kv.startsWith("token=")) given = URLDecoder.decode(kv.substring(6), StandardCharsets.UTF_8);
            }
        }
        if (given != null && MessageDigest.isEqual(token, given.getBytes(StandardCharsets.UTF_8))) return true;
        send(x, 401, "text/plain", "this dashboard needs its token: open it as /?token=<train.dashboard_token>".getBytes(StandardCharsets.UTF_8));
        return false;
    }

    /**
     * Whether a request may read the data: refused when a browser says it comes from a page of another origin
     * ({@code Origin} other than this server's as the request addressed it, or {@code Sec-Fetch-Site: cross-site});
     * the address itself is checked by {@link #knownHost}.
     */
    static boolean sameOrigin(String origin, String fetchSite, String hostHeader) {
        if (fetchSite != null && fetchSite.equals("cross-site")) return false;
        if (origin == null) return true; // not sent by browsers for same-origin GETs; non-browser clients
        return hostHeader != null && origin.equalsIgnoreCase("http://" + hostHeader);
    }

    /**
     * Whether a request addressed this dashboard by a name it answers to: the host it printed, {@code localhost}, or
     * an IP address (an SSH tunnel's). A page that re-points its own domain name at this machine (DNS rebinding)
     * sends that domain as {@code Host} and as {@code Origin}, so comparing the two alone would let it read the data.
     */
    static boolean knownHost(String hostHeader, String printedHost) {
        if (hostHeader == null) return false;
        String h = hostHeader.strip();
        if (h.startsWith("[")) return h.indexOf(']') > 0; // an IPv6 literal
        int colon = h.lastIndexOf(':');
        String name = colon >= 0 ? h.substring(0, colon) : h;
        return name.equalsIgnoreCase(printedHost) || name.equalsIgnoreCase("localhost")
                || name.matches("\\d{1,3}(\\.\\d{1,3}){3}");
    }

    private void page(HttpExchange x) throws IOException {
        if (!authorised(x)) return;
        if (!x.getRequestURI().getPath().equals("/")) {
            send(x, 404, "text/plain", "not found".getBytes(StandardCharsets.UTF_8));
            return;
        }
        send(x, 200, "text/html; charset=utf-8", DashboardPage.html(title).getBytes(StandardCharsets.UTF_8));
    }

    private void data(HttpExchange x) throws IOException {
        if (!authorised(x)) return;
        var h = x.getRequestHeaders();
        String addressed = h.getFirst("Host");
        if (!knownHost(addressed, host) || !sameOrigin(h.getFirst("Origin"), h.getFirst("Sec-Fetch-Site"), addressed)) {
            send(x, 403, "text/plain", "data.json is served to this dashboard's own page only".getBytes(StandardCharsets.UTF_8));
            return;
        }
        send(x, 200, "application/json", JSON.writeValueAsBytes(snapshot()));
    }

    private void grid(HttpExchange x) throws IOException {
        if (!authorised(x)) return;
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
        x.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
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
