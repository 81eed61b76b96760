package dev.avatartrain.hub;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.PasswordAuthentication;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.SocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import dev.avatartrain.errors.BadInputException;

/**
 * The proxies Python's {@code requests} (and so {@code huggingface_hub}) takes from the environment:
 * {@code https_proxy}/{@code HTTPS_PROXY} for https URLs, {@code http_proxy}/{@code HTTP_PROXY} for http, else
 * {@code all_proxy}/{@code ALL_PROXY} (the lower-case name wins, as in {@code urllib.request.getproxies}); no proxy
 * for a host that {@code no_proxy}/{@code NO_PROXY} lists: {@code *}, a host name, a domain suffix ({@code .corp} or
 * {@code corp}), an IP address or an IPv4 CIDR block, each with an optional {@code :port}. A proxy URL without a
 * scheme means {@code http://}. Hand-written because the JDK reads only its own {@code http.proxyHost} properties.
 */
public final class HubProxies extends ProxySelector {
    private final URI https, http;
    private final List<String> noProxy;

    private HubProxies(URI https, URI http, List<String> noProxy) {
        this.https = https;
        this.http = http;
        this.noProxy = noProxy;
    }

    static HubProxies from(Map<String, String> env) {
        URI all = proxy(env, "all_proxy");
        URI https = proxy(env, "https_proxy");
        URI http = proxy(env, "http_proxy");
        String no = variable(env, "no_proxy");
        List<String> hosts = new ArrayList<>();
        if (no != null) {
            for (String h : no.split(",")) if (!h.isBlank()) hosts.add(h.strip().toLowerCase(Locale.ROOT));
        }
        return new HubProxies(https != null ? https : all, http != null ? http : all, List.copyOf(hosts));
    }

    private static String variable(Map<String, String> env, String lower) {
        String v = env.get(lower);
        if (v == null || v.isBlank()) v = env.get(lower.toUpperCase(Locale.ROOT));
        return v == null || v.isBlank() ? null : v.strip();
    }

    private static URI proxy(Map<String, String> env, String name) {
        String v = variable(env, name);
        if (v == null) return null;
        try {
            URI u = URI.create(v.contains("://") ? v : "http://" + v);
            if (u.getHost() == null) throw new IllegalArgumentException("no host");
            if (!u.getScheme().equals("http") && !u.getScheme().equals("https")) {
                throw new IllegalArgumentException("only http:// proxies are supported");
            }
            return u;
        } catch (IllegalArgumentException e) {
            throw new BadInputException(name.toUpperCase(Locale.ROOT) + "=" + v + " is not a proxy URL ("
                    + e.getMessage() + "): give http://host:port");
        }
    }

    /** The proxy for {@code uri}, or null for a direct connection. */
    URI proxyFor(URI uri) {
        if (bypassed(uri)) return null;
        return "https".equalsIgnoreCase(uri.getScheme()) ? https : http;
    }

    private boolean bypassed(URI uri) {
        String host = uri.getHost() == null ? "" : uri.getHost().toLowerCase(Locale.ROOT).replaceAll("^\\[|]$", "");
        int port = uri.getPort() != -1 ? uri.getPort() : "https".equalsIgnoreCase(uri.getScheme()) ? 443 : 80;
        for (String entry : noProxy) {
            if (entry.equals("*")) return true;
            String name = entry, entryPort = null;
            int colon = entry.lastIndexOf(':');
            if (colon > 0 && entry.indexOf(':') == colon && entry.substring(colon + 1).matches("\\d+")) {
                name = entry.substring(0, colon);
                entryPort = entry.substring(colon + 1);
            }
            if (entryPort != null && Integer.parseInt(entryPort) != port) continue;
            name = name.replaceAll("^\\.+", "");
            if (name.contains("/") && inCidr(host, name)) return true;
            if (host.equals(name) || host.endsWith("." + name)) return true;
        }
        return false;
    }

    private static boolean inCidr(String host, String cidr) {
        String[] parts = cidr.split("/");
        long ip = ipv4(host), net = ipv4(parts[0]);
        if (ip < 0 || net < 0 || !parts[1].matches("\\d{1,2}")) return false;
        int bits = Integer.parseInt(parts[1]);
        long mask = bits == 0 ? 0 : (0xffffffffL << (32 - bits)) & 0xffffffffL;
        return (ip & mask) == (net & mask);
    }

    private static long ipv4(String s) {
        if (!s.matches("\\d{1,3}(\\.\\d{1,3}){3}")) return -1;
        long v = 0;
        for (String p : s.split("\\.")) v = (v << 8) | (Integer.parseInt(p) & 255);
        return v;
    }

    @Override
    public List<Proxy> select(URI uri) {
        URI p = proxyFor(uri);
        if (p == null) return List.of(Proxy.NO_PROXY);
        int port = p.getPort() != -1 ? p.getPort() : "https".equals(p.getScheme()) ? 443 : 80;
        return List.of(new Proxy(Proxy.Type.HTTP, InetSocketAddress.createUnresolved(p.getHost(), port)));
    }

    @Override
    public void connectFailed(URI uri, SocketAddress sa, IOException ioe) {
        // the request fails with its own error, which names the proxy (HubClient)
    }

    boolean hasCredentials() {
        return (https != null && https.getRawUserInfo() != null) || (http != null && http.getRawUserInfo() != null);
    }

    /** The user and password of the proxy URL that {@code requestingHost} is, or null. */
    PasswordAuthentication credentials(String requestingHost) {
        for (URI p : new URI[] {https, http}) {
            if (p != null && p.getRawUserInfo() != null && p.getHost().equalsIgnoreCase(requestingHost)) {
                String[] up = p.getRawUserInfo().split(":", 2);
                String pass = up.length > 1 ? URLDecoder.decode(up[1], StandardCharsets.UTF_8) : "";
                return new PasswordAuthentication(URLDecoder.decode(up[0], StandardCharsets.UTF_8), pass.toCharArray());
            }
        }
        return null;
    }

    /** The proxy settings, without credentials. */
    @Override
    public String toString() {
        return "[https=" + shown(https) + ", http=" + shown(http) + ", no_proxy=" + noProxy + "]";
    }

    static String shown(URI p) {
        return p == null ? "none" : p.getScheme() + "://" + p.getHost() + (p.getPort() == -1 ? "" : ":" + p.getPort());
    }
}
