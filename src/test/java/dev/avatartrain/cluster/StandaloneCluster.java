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
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real Spark standalone cluster on loopback for integration tests: a master and N workers, each its own
 * JVM, started from a "Spark home" assembled out of the jars Maven resolved (a cluster's Spark, Hadoop and
 * Scala, without our code), and jobs submitted with the cluster jar through {@code SparkSubmit}, as on a
 * real cluster. Executors are JVMs the workers start (children of their worker's process).
 */
public final class StandaloneCluster implements AutoCloseable {
    private static final Duration START_TIMEOUT = Duration.ofSeconds(180);
    private static final Pattern ALIVE_WORKERS = Pattern.compile("\"aliveworkers\"\\s*:\\s*(\\d+)");

    private final Path dir;
    private final Path home;
    private final Path logs;
    private final int port;
    private final int uiPort;
    private final int coresPerWorker;
    private final String memory;
    private final Process master;
    private final List<Process> workers = new ArrayList<>();
    private final List<String> javaFlags;

    /** Starts a master and {@code workers} workers of {@code coresPerWorker} cores and {@code memory} each. */
    public StandaloneCluster(Path dir, int workers, int coresPerWorker, String memory) throws IOException, InterruptedException {
        this.dir = dir;
        this.home = sparkHome(dir.resolve("spark-home"));
        this.logs = Files.createDirectories(dir.resolve("logs"));
        this.javaFlags = readJavaFlags();
        this.coresPerWorker = coresPerWorker;
        this.memory = memory;
        this.port = freePort();
        this.uiPort = freePort();
        master = start("master", List.of("org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                "--port", String.valueOf(port), "--webui-port", String.valueOf(uiPort)), Map.of());
        try {
            for (int i = 0; i < workers; i++) this.workers.add(startWorker(i));
            awaitAliveWorkers(workers);
        } catch (IOException | InterruptedException | RuntimeException e) {
            close();
            throw e;
        }
    }

    /**
     * Spark settings for this cluster's jobs: one-core executors of 2 GB heap, one per worker (of two), one OpenMP
     * thread each, no UI; a job starts once {@code registeredRatio} of the requested cores have executors.
     */
    public static Map<String, String> oneCoreExecutors(double registeredRatio) {
        Map<String, String> c = new java.util.LinkedHashMap<>();
        c.put("spark.executor.cores", "1");
        c.put("spark.cores.max", "2");
        c.put("spark.executor.memory", "2g");
        c.put("spark.executorEnv.OMP_NUM_THREADS", "1");
        c.put("spark.scheduler.minRegisteredResourcesRatio", String.valueOf(registeredRatio));
        c.put("spark.scheduler.maxRegisteredResourcesWaitingTime", "300s");
        c.put("spark.ui.enabled", "false");
        return c;
    }

    public String masterUrl() {
        return "spark://127.0.0.1:" + port;
    }

    public Path logs() {
        return logs;
    }

    /** The JVM flags every Spark JVM on Java 17 needs (Spark's --add-opens list, from the pom). */
    public List<String> javaFlags() {
        return javaFlags;
    }

    /** Kills worker {@code i} and the executors it started, as a lost machine would (SIGKILL, no goodbye). */
    public void killWorker(int i) throws InterruptedException {
        Process w = workers.get(i);
        List<ProcessHandle> children = w.descendants().toList();
        w.destroyForcibly();
        children.forEach(ProcessHandle::destroyForcibly);
        w.waitFor(30, TimeUnit.SECONDS);
        for (ProcessHandle c : children) c.onExit().join();
    }

    /** The index of the worker whose process started executor {@code executorId} of the running application, or -1. */
    public int workerOfExecutor(String executorId) {
        for (int i = 0; i < workers.size(); i++) {
            boolean runs = workers.get(i).descendants().anyMatch(p -> p.info().arguments()
                    .map(a -> executorArgument(a, executorId)).orElse(false));
            if (runs) return i;
        }
        return -1;
    }

    private static boolean executorArgument(String[] args, String executorId) {
        for (int k = 0; k + 1 < args.length; k++) {
            if (args[k].equals("--executor-id") && args[k + 1].equals(executorId)) return true;
        }
        return false;
    }

    /** Number of workers the master reports ALIVE (0 when the master does not answer). */
    public int aliveWorkers() {
        try {
            HttpURLConnection c = (HttpURLConnection) URI.create("http://127.0.0.1:" + uiPort + "/json/").toURL().openConnection();
            c.setConnectTimeout(2000);
            c.setReadTimeout(2000);
            String json = new String(c.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            Matcher m = ALIVE_WORKERS.matcher(json);
            return m.find() ? Integer.parseInt(m.group(1)) : 0;
        } catch (IOException e) {
            return 0;
        }
    }

    /**
     * Submits {@code clusterJar} with {@code args} (the command line of {@code avatar-train}) in client mode: the driver
     * runs in the SparkSubmit JVM started here, with {@code driverJavaOptions}; executors get the Java 17 flags plus
     * {@code executorJavaOptions}. {@code sparkConf} entries are passed as {@code --conf key=value}. Returns the driver
     * process; the command's output (stdout) goes to {@code logs/<name>.out}, Spark's log and errors (stderr) to
     * {@code logs/<name>.err}: kept apart, since writes to the two streams interleave within lines.
     */
    public Process submit(String name, Path clusterJar, List<String> driverJavaOptions, List<String> executorJavaOptions,
                          Map<String, String> sparkConf, List<String> args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(java()));
        cmd.addAll(driverJavaOptions);
        cmd.addAll(javaFlags);
        List<String> executorOptions = new ArrayList<>(javaFlags);
        executorOptions.addAll(executorJavaOptions);
        cmd.addAll(List.of("-cp", home.resolve("jars") + "/*", "org.apache.spark.deploy.SparkSubmit",
                "--master", masterUrl(), "--deploy-mode", "client", "--class", "dev.avatartrain.cli.Main",
                "--conf", "spark.executor.extraJavaOptions=" + String.join(" ", executorOptions),
                "--conf", "spark.driver.host=127.0.0.1",
                "--conf", "spark.local.dir=" + Files.createDirectories(dir.resolve("local-driver"))));
        sparkConf.forEach((k, v) -> cmd.addAll(List.of("--conf", k + "=" + v)));
        cmd.add(clusterJar.toString());
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(logs.resolve(name + ".out").toFile())
                .redirectError(logs.resolve(name + ".err").toFile());
        environment(pb, Map.of());
        return pb.start();
    }

    /**
     * What submitted command {@code name} printed: stdout, then stderr, where the product's messages go under
     * spark-submit (they are logged through SLF4J, and Spark's default log4j2 configuration writes to stderr).
     */
    public String output(String name) throws IOException {
        return read(logs.resolve(name + ".out")) + read(logs.resolve(name + ".err"));
    }

    /** Spark's log and the errors of submitted command {@code name} (stderr). */
    public String sparkLog(String name) throws IOException {
        return read(logs.resolve(name + ".err"));
    }

    /** The log of the master ({@code "master"}) or of a worker ({@code "worker-<i>"}). */
    public String log(String name) throws IOException {
        return read(logs.resolve(name + ".log"));
    }

    private static String read(Path f) throws IOException {
        return Files.exists(f) ? new String(Files.readAllBytes(f), StandardCharsets.UTF_8) : "";
    }

    /** Kills the workers (with their executors) and the master, and waits for them to end. */
    @Override
    public void close() {
        List<ProcessHandle> all = new ArrayList<>();
        for (Process w : workers) {
            all.addAll(w.descendants().toList());
            all.add(w.toHandle());
        }
        all.addAll(master.descendants().toList());
        all.add(master.toHandle());
        all.forEach(ProcessHandle::destroyForcibly);
        for (ProcessHandle p : all) {
            try {
                p.onExit().get(30, TimeUnit.SECONDS);
            } catch (Exception e) {
                // best effort: a process that does not end within 30 s after SIGKILL is left to the OS
            }
        }
    }

    private Process startWorker(int i) throws IOException {
        Path work = Files.createDirectories(dir.resolve("work-" + i));
        Path local = Files.createDirectories(dir.resolve("local-" + i));
        // SPARK_LOCAL_DIRS: the executors' scratch space (and Spark's fetch cache of the app jar) stays under dir.
        return start("worker-" + i, List.of("org.apache.spark.deploy.worker.Worker", masterUrl(),
                "--host", "127.0.0.1", "--cores", String.valueOf(coresPerWorker), "--memory", memory,
                "--work-dir", work.toString(), "--webui-port", "0"), Map.of("SPARK_LOCAL_DIRS", local.toString()));
    }

    private Process start(String name, List<String> mainAndArgs, Map<String, String> env) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(java(), "-Xmx256m"));
        cmd.addAll(javaFlags);
        // A worker starved of CPU on a busy 2-core machine missed heartbeats for 60 s (the default) and the master
        // dropped it in the middle of a run; only the kill in the test should lose a worker.
        cmd.add("-Dspark.worker.timeout=600");
        cmd.addAll(List.of("-cp", home.resolve("jars") + "/*"));
        cmd.addAll(mainAndArgs);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(logs.resolve(name + ".log").toFile());
        environment(pb, env);
        return pb.start();
    }

    private void environment(ProcessBuilder pb, Map<String, String> env) {
        Map<String, String> e = pb.environment();
        e.put("SPARK_HOME", home.toString());
        // The launcher library (used by workers to build executor command lines) asks for the Scala version of a
        // Spark home that is not a source build.
        e.put("SPARK_SCALA_VERSION", "2.12");
        e.put("SPARK_LOCAL_IP", "127.0.0.1");
        e.remove("SPARK_CONF_DIR");
        e.putAll(env);
    }

    private void awaitAliveWorkers(int n) throws InterruptedException, IOException {
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (!master.isAlive()) throw new IllegalStateException("Spark master died:\n" + log("master"));
            for (int i = 0; i < workers.size(); i++) {
                if (!workers.get(i).isAlive()) throw new IllegalStateException("Spark worker " + i + " died:\n" + log("worker-" + i));
            }
            if (aliveWorkers() >= n) return;
            Thread.sleep(500);
        }
        throw new IllegalStateException("Spark cluster did not start " + n + " workers in " + START_TIMEOUT + "; logs in " + logs);
    }

    /** SPARK_HOME/jars holding links to the jars of a cluster's Spark (from target/spark-runtime-classpath.txt). */
    private static Path sparkHome(Path home) throws IOException {
        Path jars = Files.createDirectories(home.resolve("jars"));
        Path classpath = Path.of(System.getProperty("avatartrain.spark.classpath", projectDir().resolve("target/spark-runtime-classpath.txt").toString()));
        String cp = Files.readString(classpath).trim();
        for (String jar : cp.split(java.io.File.pathSeparator)) {
            Path p = Path.of(jar);
            Path link = jars.resolve(p.getFileName());
            if (!Files.exists(link, java.nio.file.LinkOption.NOFOLLOW_LINKS)) Files.createSymbolicLink(link, p);
        }
        return home;
    }

    private static List<String> readJavaFlags() throws IOException {
        Path flags = projectDir().resolve("target/classes/avatar-train/jvm-options.txt");
        return List.of(Files.readString(flags).trim().split("\\s+"));
    }

    static Path projectDir() {
        return Path.of(System.getProperty("avatartrain.project.dir", "."));
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
