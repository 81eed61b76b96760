package dev.avatartrain.hub;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * A loopback file server for hub tests (JDK HttpServer). It serves {@code /<repo>/resolve/<revision>/<file>} and
 * nothing else. As a plain server it sends no hub headers; {@link #hubHeaders} makes it answer like the hub
 * ({@code X-Repo-Commit}, {@code X-Linked-Etag}, {@code X-Error-Code}); {@link #redirectTo} sends the files to a second
 * server (a "CDN" on another host name) with a 302; {@link #token} makes it demand {@code Authorization: Bearer}.
 * Every request is recorded with its Authorization header. Faults: {@link #failWith} answers every request with that
 * status; {@link #delayMillis} waits before answering; {@link #cutTo} sends only that many bytes of a body (announcing
 * the full size in the hub headers); {@link #stallAfter} sends that many bytes and then nothing until closed.
 */
final class HubServer implements AutoCloseable {
    record Request(String method, String path, String authorization) {}

    final Map<String, byte[]> files = new ConcurrentHashMap<>(); // "owner/name/resolve/rev/path" → bytes
    final List<Request> requests = new CopyOnWriteArrayList<>();
    volatile String commit;          // X-Repo-Commit when hubHeaders
    volatile boolean hubHeaders;
    volatile String token;
    volatile HubServer redirectTo;   // serve file bodies from this server instead
    volatile int failWith;
    volatile long delayMillis;
    volatile int cutTo = -1;
    volatile int stallAfter = -1;
    private final HttpServer server;
    private final String host;

    HubServer(String host) throws IOException {
        this.host = host;
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", this::handle);
        server.setExecutor(java.util.concurrent.Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "hub-server");
            t.setDaemon(true);
            return t;
        }));
        server.start();
    }

    /** The base URL, with the host name given (127.0.0.1 and localhost are different hosts to a client). */
    String url() {
        return "http://" + host + ":" + server.getAddress().getPort();
    }

    void put(String repo, String revision, String path, byte[] content) {
        files.put(repo + "/resolve/" + revision + "/" + path, content);
    }

    static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    private void handle(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getRawPath().substring(1);
        String decoded = java.net.URLDecoder.decode(path.replace("+", "%2B"), java.nio.charset.StandardCharsets.UTF_8);
        requests.add(new Request(ex.getRequestMethod(), decoded, ex.getRequestHeaders().getFirst("Authorization")));
        try (ex) {
            if (delayMillis > 0) Thread.sleep(delayMillis);
            if (failWith != 0) {
                reply(ex, failWith, null);
                return;
            }
            if (token != null && !("Bearer " + token).equals(ex.getRequestHeaders().getFirst("Authorization"))) {
                reply(ex, 401, null);
                return;
            }
            byte[] body = files.get(decoded);
            if (body == null) {
                if (hubHeaders) ex.getResponseHeaders().add("X-Error-Code", "EntryNotFound");
                reply(ex, 404, null);
                return;
            }
            if (hubHeaders) {
                ex.getResponseHeaders().add("X-Repo-Commit", commit);
                ex.getResponseHeaders().add("X-Linked-Etag", "\"" + sha256(body) + "\"");
                ex.getResponseHeaders().add("X-Linked-Size", Integer.toString(body.length));
            }
            if (redirectTo != null) {
                String blob = "blobs/" + sha256(body);
                redirectTo.files.put(blob, body);
                ex.getResponseHeaders().add("Location", redirectTo.url() + "/" + blob + "?X-Amz-Signature=secret");
                reply(ex, 302, null);
                return;
            }
            if (stallAfter >= 0 && ex.getRequestMethod().equals("GET")) {
                ex.sendResponseHeaders(200, body.length);
                ex.getResponseBody().write(body, 0, stallAfter);
                ex.getResponseBody().flush();
                Thread.sleep(60_000);
                return;
            }
            reply(ex, 200, cutTo >= 0 && ex.getRequestMethod().equals("GET") ? java.util.Arrays.copyOf(body, cutTo) : body);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            throw new IOException(e);
        }
    }

    private static void reply(HttpExchange ex, int status, byte[] body) throws IOException {
        boolean head = ex.getRequestMethod().equals("HEAD");
        if (body != null && head) ex.getResponseHeaders().add("Content-Length", Integer.toString(body.length));
        ex.sendResponseHeaders(status, body == null || head ? -1 : body.length);
        if (body != null && !head) {
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        }
    }

    @Override
    public void close() {
        stallAfter = -1;
        server.stop(0);
    }
}
