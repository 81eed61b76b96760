package dev.avatartrain.storage;

import dev.avatartrain.errors.BadInputException;

import java.io.Serializable;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A base location as the user wrote it, mapped to what Hadoop's FileSystem reads.
 * <ul>
 *   <li>a local path or {@code file://} URL: the local disk (read with java.nio, not Hadoop);</li>
 *   <li>{@code s3a://bucket/prefix} ({@code s3://} and {@code s3n://} are read as s3a): settings from {@code fs.s3a.*};</li>
 *   <li>an HTTP(S) URL of a public bucket, virtual-hosted ({@code https://BUCKET.s3.REGION.amazonaws.com/prefix})
 *       or path-style ({@code https://s3.REGION.amazonaws.com/BUCKET/prefix}, or any other host, e.g. an
 *       S3-compatible server: {@code http://host:port/BUCKET/prefix}): read through s3a with anonymous
 *       credentials and, per bucket, that endpoint and region — unless the user configured that bucket;</li>
 *   <li>any other {@code scheme://} URL ({@code hdfs://}, {@code viewfs://}, {@code gs://}, {@code abfs(s)://},
 *       {@code wasb(s)://}, ...): passed to Hadoop as written. Whether a connector for the scheme is on the
 *       classpath is checked when the location is first opened ({@link Storage}), with the connector to add.</li>
 * </ul>
 */
public record StorageUrl(String original, String hadoopUri, String localFile, Map<String, String> bucketSettings)
        implements Serializable {

    private static final Pattern VIRTUAL_HOSTED =
            Pattern.compile("([a-z0-9][a-z0-9.-]*)\\.s3[.-]([a-z0-9-]+)\\.amazonaws\\.com(\\.cn)?");
    private static final Pattern PATH_STYLE_AWS = Pattern.compile("s3[.-]([a-z0-9-]+)\\.amazonaws\\.com(\\.cn)?");
    static final String ANONYMOUS = "org.apache.hadoop.fs.s3a.AnonymousAWSCredentialsProvider";

    public boolean isLocal() {
        return localFile != null;
    }

    /** The local file or folder (local locations only; a String field keeps this Serializable). */
    public Path localPath() {
        return localFile == null ? null : Path.of(localFile);
    }

    /** Parses {@code url}; a blank value is an error naming {@code what} (a config key or option). */
    public static StorageUrl parse(String url, String what) {
        if (url == null || url.isBlank())
            throw new BadInputException(what + " is empty: give a local path or a URL (s3a://, hdfs://, gs://, abfs://, https://...).");
        String u = url.strip();
        try {
            if (u.startsWith("file:")) return local(u, Path.of(new URI(u)));
            int colon = u.indexOf("://");
            if (colon < 0) return local(u, Path.of(u));
            String scheme = u.substring(0, colon).toLowerCase();
            URI uri = new URI(u);
            switch (scheme) {
                case "s3a", "s3", "s3n" -> {
                    if (uri.getHost() == null) throw new BadInputException(what + " = " + url + ": no bucket name after " + scheme + "://.");
                    return new StorageUrl(u, "s3a://" + uri.getHost() + slashPath(uri.getRawPath()), null, Map.of());
                }
                case "http", "https" -> {
                    return fromHttp(u, uri, what);
                }
                default -> {
                    if (!scheme.matches("[a-z][a-z0-9+.-]*"))
                        throw new BadInputException(what + " = " + url + ": '" + scheme + "' is not a URL scheme.");
                    return new StorageUrl(u, scheme + "://" + (uri.getRawAuthority() == null ? "" : uri.getRawAuthority())
                            + slashPath(uri.getRawPath()), null, Map.of());
                }
            }
        } catch (URISyntaxException | IllegalArgumentException e) {
            throw new BadInputException(what + " = " + url + ": not a valid path or URL (" + e.getMessage() + ").", e);
        }
    }

    /** The URL scheme Hadoop sees ({@code file} for local locations). */
    public String scheme() {
        return isLocal() ? "file" : URI.create(hadoopUri).getScheme();
    }

    private static StorageUrl local(String original, Path p) {
        return new StorageUrl(original, p.toAbsolutePath().normalize().toUri().toString(), p.toAbsolutePath().normalize().toString(), Map.of());
    }

    private static StorageUrl fromHttp(String original, URI uri, String what) {
        String host = uri.getHost();
        if (host == null) throw new BadInputException(what + " = " + original + ": no host name.");
        host = host.toLowerCase();
        String path = uri.getRawPath() == null ? "" : uri.getRawPath();
        String bucket;
        String key;
        String region = null;
        String endpoint;
        Matcher m = VIRTUAL_HOSTED.matcher(host);
        Matcher p = PATH_STYLE_AWS.matcher(host);
        boolean pathStyle;
        if (m.matches()) {
            bucket = m.group(1);
            region = m.group(2);
            key = path;
            endpoint = "s3." + region + ".amazonaws.com" + (m.group(3) != null ? m.group(3) : "");
            pathStyle = false;
        } else {
            String[] parts = path.replaceFirst("^/", "").split("/", 2);
            if (parts[0].isEmpty()) throw new BadInputException(what + " = " + original
                    + ": a path-style bucket URL needs the bucket name as the first path segment (http(s)://host/BUCKET/prefix).");
            bucket = parts[0];
            key = parts.length > 1 ? "/" + parts[1] : "";
            if (p.matches()) region = p.group(1);
            int port = uri.getPort();
            endpoint = uri.getScheme().toLowerCase() + "://" + host + (port > 0 ? ":" + port : "");
            pathStyle = true;
        }
        Map<String, String> s = new LinkedHashMap<>();
        String b = "fs.s3a.bucket." + bucket + ".";
        s.put(b + "aws.credentials.provider", ANONYMOUS);
        s.put(b + "endpoint", endpoint);
        if (region != null) s.put(b + "endpoint.region", region);
        if (pathStyle) s.put(b + "path.style.access", "true");
        s.put(b + "connection.ssl.enabled", Boolean.toString(!"http".equalsIgnoreCase(uri.getScheme())));
        return new StorageUrl(original, "s3a://" + bucket + slashPath(key), null, Map.copyOf(s));
    }

    private static String slashPath(String p) {
        if (p == null || p.isEmpty() || p.equals("/")) return "/";
        return p.startsWith("/") ? p : "/" + p;
    }

    /** This location joined with a relative path ({@code /}-separated). */
    public String child(String relative) {
        String rel = relative == null ? "" : relative.replaceFirst("^/+", "");
        if (rel.isEmpty()) return hadoopUri;
        return hadoopUri.endsWith("/") ? hadoopUri + rel : hadoopUri + "/" + rel;
    }

    /** The local file for a relative path (local locations only). */
    public Path localChild(String relative) {
        String rel = relative == null ? "" : relative.replaceFirst("^/+", "");
        return rel.isEmpty() ? localPath() : localPath().resolve(rel);
    }

    @Override
    public String toString() {
        return original;
    }
}
