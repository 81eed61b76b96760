package dev.avatartrain.cluster;

import java.io.IOException;
import java.net.HttpURLConnection;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real Spark standalone cluster on loopback for integration tests: a master and N workers, each its own
 * JVM, started from a "Spark home" assembled out of the jars Maven resolved (a cluster's Spark, Hadoop and
 * Scala, without our code), and jobs submitted with the cluster jar through {@code SparkSubmit}, as on a
 * real cluster.
 */
public final class StandaloneCluster implements AutoCloseable {
    private static final Duration START_TIMEOUT = Duration.ofSeconds(90);

    private final Path home;
    private final Path logs;
    private final int port;
    private final int uiPort;
    private final Process master;
    private final List<Process> workers = new ArrayList<>();
    private final List<String> javaFlags;

    /** Starts a master and {@code workers} workers of {@code coresPerWorker} cores and {@code memory} each. */
    public StandaloneCluster(Path dir, int workers, int coresPerWorker, String memory) throws IOException, InterruptedException {
        this.home = sparkHome(dir.resolve("spark-home"));
        this.logs = Files.createDirectories(dir.resolve("logs"));
        this.javaFlags = javaFlags();
        this.port = freePort();
        this.uiPort = freePort();
        master = start("master", List.of("org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                "--port", String.valueOf(port), "--webui-port", String.valueOf(uiPort)));
        for (int i = 0; i < workers; i++) {
            Path work = Files.createDirectories(dir.resolve("work-" + i));
            this.workers.add(start("worker-" + i, List.of("org.apache.spark.deploy.worker.Worker", masterUrl(),
                    "--host", "127.0.0.1", "--cores", String.valueOf(coresPerWorker), "--memory", memory,
                    "--work-dir", work.toString(), "--webui-port", "0")));
        }
        awaitAliveWorkers(workers);
    }

    public String masterUrl() {
        return "spark://127.0.0.1:" + port;
    }

    public Path logs() {
        return logs;
    }

    /** Kills worker {@code i} (and so its executors), as a lost machine would. */
    public void killWorker(int i) throws InterruptedException {
        Process w = workers.get(i);
        w.descendants().forEach(ProcessHandle::destroyForcibly);
        w.destroyForcibly();
        w.waitFor(30, TimeUnit.SECONDS);
    }

    /** Number of workers the master reports ALIVE. */
    public int aliveWorkers() {
        try {
            HttpURLConnection c = (HttpURLConnection) URI.create("http://127.0.0.1:" + uiPort + "/json/").toURL().openConnection();
            c.setConnectTimeout(2000);
            c.setReadTimeout(2000);
            String json = new String(c.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            Matcher m = Pattern.compile("\"state\"\\s*:\\s*\"ALIVE\"").matcher(json);
            int n = 0;
            while (m.find()) n++;
            // The master's own status is also "ALIVE".
            return Math.max(0, n - 1);
        } catch (IOException e) {
            return 0;
        }
    }

    /**
     * Submits {@code clusterJar} with {@code args} (the command line of {@code avatar-train}) in client mode
     * and returns the started driver process; its output goes to {@code logs/<name>.log}.
     */
    public Process submit(String name, Path clusterJar, List<String> sparkConf, List<String> args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(java(), "-Xmx2g"));
        cmd.addAll(javaFlags);
        cmd.addAll(List.of("-cp", home.resolve("jars") + "/*", "org.apache.spark.deploy.SparkSubmit",
                "--master", masterUrl(), "--deploy-mode", "client", "--class", "dev.avatartrain.cli.Main",
                "--conf", "spark.executor.extraJavaOptions=" + String.join(" ", javaFlags),
                "--conf", "spark.driver.extraJavaOptions=" + String.join(" ", javaFlags)));
        cmd.addAll(sparkConf);
        cmd.add(clusterJar.toString());
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(logs.resolve(name + ".log").toFile());
        pb.environment().put("SPARK_HOME", home.toString());
        return pb.start();
    }

    public String log(String name) throws IOException {
        return Files.readString(logs.resolve(name + ".log"));
    }

    @Override
    public void close() {
        for (Process w : workers) {
            w.descendants().forEach(ProcessHandle::destroyForcibly);
            w.destroyForcibly();
        }
        master.destroyForcibly();
    }

    private Process start(String name, List<String> mainAndArgs) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(java(), "-Xmx512m"));
        cmd.addAll(javaFlags);
        cmd.addAll(List.of("-cp", home.resolve("jars") + "/*"));
        cmd.addAll(mainAndArgs);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(logs.resolve(name + ".log").toFile());
        pb.environment().put("SPARK_HOME", home.toString());
        pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
        return pb.start();
    }

    private void awaitAliveWorkers(int n) throws InterruptedException, IOException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (!master.isAlive()) throw new IllegalStateException("Spark master died:\n" + log("master"));
            if (aliveWorkers() >= n) return;
            Thread.sleep(500);
        }
        close();
        throw new IllegalStateException("Spark cluster did not start " + n + " workers in " + START_TIMEOUT
                + "; logs in " + logs);
    }

    /** SPARK_HOME/jars holding links to the jars of a cluster's Spark (from target/spark-runtime-classpath.txt). */
    private static Path sparkHome(Path home) throws IOException {
        Path jars = Files.createDirectories(home.resolve("jars"));
        String cp = Files.readString(Path.of(System.getProperty("avatartrain.spark.classpath",
                "target/spark-runtime-classpath.txt"))).trim();
        for (String jar : cp.split(java.io.File.pathSeparator)) {
            Path p = Path.of(jar);
            Path link = jars.resolve(p.getFileName());
            if (!Files.exists(link)) Files.createSymbolicLink(link, p);
        }
        return home;
    }

    private static List<String> javaFlags() throws IOException {
        Path flags = Path.of("target/classes/avatar-train/jvm-options.txt");
        return List.of(Files.readString(flags).trim().split("\\s+"));
    }

    private static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }
}
