package dev.avatartrain.hub;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.HttpURLConnection;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.URI;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * A forwarding HTTP proxy on loopback for tests: it takes requests in absolute form ({@code GET http://host:port/path}),
 * records the URL, and forwards them to {@code 127.0.0.1} at the requested port, whatever the host name (so a host that
 * does not resolve is reachable only through the proxy). Status, the hub's headers and the body are passed back.
 */
final class LoopbackProxy implements AutoCloseable {
    final List<String> requested = new CopyOnWriteArrayList<>();
    private final HttpServer server;

    LoopbackProxy() throws IOException {
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", this::forward);
        server.start();
    }

    String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    private void forward(HttpExchange ex) throws IOException {
        URI target = ex.getRequestURI();
        requested.add(ex.getRequestMethod() + " " + target);
        try (ex) {
            if (target.getHost() == null) {
                ex.sendResponseHeaders(400, -1);
                return;
            }
            URI direct = URI.create("http://127.0.0.1:" + target.getPort() + target.getRawPath());
            HttpURLConnection c = (HttpURLConnection) direct.toURL().openConnection(Proxy.NO_PROXY);
            c.setInstanceFollowRedirects(false);
            c.setRequestMethod(ex.getRequestMethod());
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            if (auth != null) c.setRequestProperty("Authorization", auth);
            int status = c.getResponseCode();
            for (String h : List.of("X-Repo-Commit", "X-Linked-Etag", "X-Linked-Size", "ETag", "Location", "X-Error-Code")) {
                if (c.getHeaderField(h) != null) ex.getResponseHeaders().add(h, c.getHeaderField(h));
            }
            InputStream in = status >= 400 ? c.getErrorStream() : c.getInputStream();
            byte[] body = in == null ? new byte[0] : in.readAllBytes();
            boolean head = ex.getRequestMethod().equals("HEAD");
            if (head && c.getHeaderField("Content-Length") != null) {
                ex.getResponseHeaders().add("Content-Length", c.getHeaderField("Content-Length"));
            }
            ex.sendResponseHeaders(status, head || body.length == 0 ? -1 : body.length);
            if (!head && body.length > 0) {
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(body);
                }
            }
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
