package dev.avatartrain.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.avatartrain.cluster.StandaloneCluster;
import dev.avatartrain.models.adapter.AudioProjConfig;
import dev.avatartrain.synth.SyntheticAdapterData;
import dev.avatartrain.train.adapter.AdapterOptions;

/**
 * The driver's memory while training ({@code bench/driver-memory.sh}): {@code train-adapter} submitted to a real
 * standalone cluster on loopback (two workers of one core, each its own JVM), so the driver's JVM holds only what the
 * driver holds. For each cluster jar given (e.g. this build's and an older commit's, side by side) and each adapter
 * size, two runs: one in an 8 GB G1 heap (the JVM's default collector), for the peak heap after a young collection
 * (from the driver's GC log: an upper bound of the live heap, since old garbage stays until a mixed or full
 * collection) and the peak resident set; and one in a heap of the state + 10 % + Spark's baseline (the smallest heap
 * of 64, 96, 128, 192, 256, 384 MiB in which an 18.7 k-parameter adapter trains with the first jar), under the serial
 * collector with a 32 MiB young generation: nearly all of that heap is old generation, which full collections
 * compact, so the run completes only if the driver's live heap never exceeds it (G1 in so tight a heap also fails
 * on fragmentation: the 32 MiB chunks are humongous objects it does not move). The largest heap after a full
 * collection in that run is the live peak's best sample.
 * Args: {@code steps jar...}; sizes: the default 74 M and intermediate_dim 1536 (224 M).
 */
public final class DriverMemoryBench {
    private static final Pattern AFTER_GC = Pattern.compile("Pause \\S+.*?(\\d+)M->(\\d+)M\\((\\d+)M\\)");
    private static final Pattern AFTER_FULL_GC = Pattern.compile("Pause Full.*?(\\d+)M->(\\d+)M\\((\\d+)M\\)");

    public static void main(String[] args) throws Exception {
        int steps = Integer.parseInt(args[0]);
        Path project = Path.of(".").toAbsolutePath().normalize();
        Path dir = Files.createTempDirectory(Files.createDirectories(project.resolve("target")), "driver-memory-");
        Map<String, Object> tiny = Map.of("blocks", 2, "channels", 16, "intermediate_dim", 32, "context_tokens", 4, "output_dim", 32);
        Map<String, Map<String, Object>> sizes = new LinkedHashMap<>();
        sizes.put("74 M (default)", Map.of());
        sizes.put("224 M (intermediate_dim 1536)", Map.of("intermediate_dim", 1536));
        try (StandaloneCluster cluster = new StandaloneCluster(dir.resolve("cluster"), 2, 1, "8g")) {
            Path tinyManifest = SyntheticAdapterData.write(dir.resolve("data-tiny"), config(tiny), 4 * steps + 4, 3);
            long baselineMb = 0;
            for (long mb : new long[]{64, 96, 128, 192, 256, 384}) {
                if (submit(cluster, dir, "baseline-" + mb, Path.of(args[1]), tinyManifest, tiny, steps, tight(mb, dir.resolve("baseline-gc.log"))).completed()) {
                    baselineMb = mb;
                    break;
                }
            }
            if (baselineMb == 0) throw new IllegalStateException("the 18.7 k adapter did not train in a 384 MiB driver heap");
            System.out.printf("driver-memory: Spark's baseline: an 18.7 k-parameter adapter trains in a driver heap of %d MiB%n", baselineMb);
            System.out.println("| cluster jar | adapter | state | driver peak heap after young GC (8 GB heap) | beyond the state | driver peak RSS"
                    + " | in a heap of state + 10 % + " + baselineMb + " MiB (serial GC) |");
            System.out.println("|---|---|---|---|---|---|---|");
            int run = 0;
            for (Map.Entry<String, Map<String, Object>> size : sizes.entrySet()) {
                AudioProjConfig cfg = config(size.getValue());
                Path data = dir.resolve("data-" + run);
                Path manifest = SyntheticAdapterData.write(data, cfg, 4 * steps + 4, 3);
                long params = cfg.parameterCount();
                for (int j = 1; j < args.length; j++) {
                    String name = "run-" + run + "-" + j;
                    Path gc = dir.resolve(name + "-gc.log");
                    Submitted free = submit(cluster, dir, name, Path.of(args[j]), manifest, size.getValue(), steps, List.of("-Xmx8g", "-Xlog:gc:file=" + gc));
                    if (!free.completed()) throw new IllegalStateException(name + " failed:\n" + tail(free.output()));
                    long peakMb = 0;
                    Matcher m = AFTER_GC.matcher(Files.readString(gc));
                    while (m.find()) peakMb = Math.max(peakMb, Long.parseLong(m.group(2)));
                    long tightMb = (long) Math.ceil(1.1 * 12 * params / (1 << 20)) + baselineMb;
                    Path tightGc = dir.resolve(name + "-tight-gc.log");
                    Submitted tight = submit(cluster, dir, name + "-tight", Path.of(args[j]), manifest, size.getValue(), steps, tight(tightMb, tightGc));
                    long liveMb = 0;
                    Matcher f = AFTER_FULL_GC.matcher(Files.exists(tightGc) ? Files.readString(tightGc) : "");
                    while (f.find()) liveMb = Math.max(liveMb, Long.parseLong(f.group(2)));
                    String verdict = tight.completed() ? String.format("completes (-Xmx%dm); live peak ≥ %.3f GB (state %+.0f %%)", tightMb,
                            liveMb * (1 << 20) / 1e9, 100 * (liveMb * (1 << 20) / (12.0 * params) - 1))
                            : (tight.output().contains("OutOfMemoryError") ? "**out of heap**"
                            : tight.output().contains("the driver cannot hold the model") ? "refused by its own driver check" : "failed") + " (-Xmx" + tightMb + "m)";
                    double state = 12e-9 * params, heap = peakMb * (1 << 20) / 1e9;
                    System.out.printf("| %s | %s: %,d parameters | %.3f GB | %.3f GB | %+.3f GB (%+.0f %%) | %.2f GB | %s |%n", args[j], size.getKey(), params,
                            state, heap, heap - state, 100 * (heap - state) / state, free.rssKb() / 1e6, verdict);
                }
                run++;
            }
        } finally {
            deleteTree(dir);
        }
    }

    static AudioProjConfig config(Map<String, Object> sizes) throws java.io.IOException {
        Map<String, Object> o = new LinkedHashMap<>(sizes);
        o.put("manifest", "synthetic");
        return AdapterOptions.load(null, List.of(), o).model();
    }

    /** A heap of {@code mb} MiB, nearly all old generation (serial collector), with its GC log. */
    static List<String> tight(long mb, Path gcLog) {
        return List.of("-Xmx" + mb + "m", "-XX:+UseSerialGC", "-Xmn32m", "-Xlog:gc:file=" + gcLog);
    }

    record Submitted(boolean completed, String output, long rssKb) {}

    /** Runs {@code train-adapter} on the cluster with this driver heap: whether it completed, its output, its peak RSS. */
    static Submitted submit(StandaloneCluster cluster, Path dir, String name, Path jar, Path manifest, Map<String, Object> sizes, int steps,
                            List<String> heap) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("train-adapter", "--manifest", manifest.toString(), "--output-dir",
                dir.resolve(name).toString(), "--epochs", "1", "--set", "num_workers=2", "--set", "dashboard_port=0",
                "--set", "validation_fraction=0.1", "--set", "checkpointing_steps=" + steps));
        sizes.forEach((k, v) -> cmd.addAll(List.of("--set", k + "=" + v)));
        List<String> driverJvm = new ArrayList<>(heap);
        driverJvm.addAll(List.of("-Dorg.bytedeco.javacpp.maxbytes=4g", "-Dorg.bytedeco.javacpp.maxphysicalbytes=12g"));
        Process driver = cluster.submit(name, jar, driverJvm,
                List.of("-Dorg.bytedeco.javacpp.maxbytes=5g", "-Dorg.bytedeco.javacpp.maxphysicalbytes=10g"), conf(), cmd);
        long rssKb = 0;
        long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
        while (!driver.waitFor(200, TimeUnit.MILLISECONDS)) {
            rssKb = Math.max(rssKb, hwmKb(driver.pid()));
            if (System.nanoTime() > deadline) driver.destroyForcibly(); // e.g. a driver stuck after an OutOfMemoryError
        }
        String out = cluster.output(name);
        deleteTree(dir.resolve(name)); // checkpoints: 12 bytes per parameter each
        return new Submitted(driver.exitValue() == 0 && out.contains("train-adapter: weights"), out, rssKb);
    }

    static void deleteTree(Path p) throws java.io.IOException {
        if (!Files.exists(p)) return;
        try (var walk = Files.walk(p)) {
            for (Path q : walk.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(q);
        }
    }

    static Map<String, String> conf() {
        Map<String, String> c = StandaloneCluster.oneCoreExecutors(1.0);
        // Spark refuses a driver heap under 450 MiB (1.5 × its 300 MiB "reserved memory", a figure for its memory
        // manager's accounting, not a measurement); 0 lets the baseline runs find what the driver really needs
        c.put("spark.testing.reservedMemory", "0");
        return c;
    }

    /** The process's peak resident set so far (VmHWM), 0 once it has ended. */
    static long hwmKb(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status")))
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("\\D+", ""));
        } catch (java.io.IOException e) {
            return 0;
        }
        return 0;
    }

    static String tail(String s) {
        return s.length() > 4000 ? s.substring(s.length() - 4000) : s;
    }
}
