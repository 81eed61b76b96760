package dev.avatartrain.storage;


import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.ServerSocket;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * A real S3 server for tests: s3proxy (filesystem backend, no authorization) in its own JVM on 127.0.0.1.
 * The jar is copied by Maven to target/s3proxy/s3proxy.jar (pom.xml, maven-dependency-plugin); nothing is
 * downloaded at test time. Buckets are folders under {@link #baseDir()}.
 */
public final class S3Proxy implements AutoCloseable {
    private final Path baseDir;
    private final int port;
    private Process process;

    public S3Proxy(Path baseDir) throws IOException {
        this.baseDir = baseDir;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            this.port = s.getLocalPort();
        }
        start();
    }

    static Path jar() {
        Path jar = Path.of(System.getProperty("avatartrain.project.dir", "."), "target", "s3proxy", "s3proxy.jar");
        if (!Files.isRegularFile(jar)) throw new IllegalStateException("s3proxy jar not found at " + jar + " (run mvn generate-test-resources)");
        return jar;
    }

    public synchronized void start() throws IOException {
        Files.createDirectories(baseDir);
        Path props = baseDir.resolveSibling(baseDir.getFileName() + ".properties");
        Files.writeString(props, String.join("\n",
                "s3proxy.endpoint=http://127.0.0.1:" + port,
                "s3proxy.authorization=none",
                "jclouds.provider=filesystem",
                "jclouds.filesystem.basedir=" + baseDir.toAbsolutePath(), ""));
        Path log = baseDir.resolveSibling(baseDir.getFileName() + ".log");
        process = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-XX:TieredStopAtLevel=1", "-jar", jar().toString(), "--properties", props.toString())
                .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        long deadline = System.currentTimeMillis() + 60_000;
        while (System.currentTimeMillis() < deadline) {
            if (!process.isAlive()) throw new IOException("s3proxy exited; see " + log);
            try {
                HttpURLConnection c = (HttpURLConnection) new URL(endpoint() + "/").openConnection();
                c.setConnectTimeout(500);
                c.getResponseCode();
                c.disconnect();
                return;
            } catch (IOException notYet) {
                try {
                    Thread.sleep(200);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException(e);
                }
            }
        }
        throw new IOException("s3proxy did not start within 60 s; see " + log);
    }

    public synchronized void stop() throws InterruptedException {
        if (process != null) {
            process.destroy();
            process.waitFor();
            process = null;
        }
    }

    public String endpoint() {
        return "http://127.0.0.1:" + port;
    }

    public Path baseDir() {
        return baseDir;
    }

    public Path createBucket(String name) throws IOException {
        return Files.createDirectories(baseDir.resolve(name));
    }

    /** {@code spark.hadoop.}-less s3a settings that reach this server (path-style, plain HTTP, fail fast). */
    public Map<String, String> s3aSettings() {
        Map<String, String> m = new TreeMap<>();
        m.put("fs.s3a.endpoint", endpoint());
        m.put("fs.s3a.path.style.access", "true");
        m.put("fs.s3a.connection.ssl.enabled", "false");
        m.put("fs.s3a.access.key", "test");
        m.put("fs.s3a.secret.key", "test");
        m.put("fs.s3a.endpoint.region", "us-east-1");
        m.put("fs.s3a.attempts.maximum", "1");
        m.put("fs.s3a.retry.limit", "1");
        m.put("fs.s3a.retry.interval", "50ms");
        m.put("fs.s3a.connection.establish.timeout", "2000");
        m.put("fs.s3a.connection.timeout", "5000");
        // files a test places straight into the bucket folder have no stored ETag, which S3A's default change
        // detection insists on when it opens them (objects PUT through the server have one)
        m.put("fs.s3a.change.detection.version.required", "false");
        return m;
    }

    @Override
    public void close() throws InterruptedException {
        stop();
    }
}
