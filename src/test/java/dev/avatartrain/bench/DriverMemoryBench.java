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
 * size: the peak heap after a garbage collection (the driver's live heap, from its GC log; Spark's own driver
 * objects included) and the peak resident set, against the model state (parameters and both AdamW moments).
 * Args: {@code steps jar...}; sizes: a 0.2 M adapter (Spark's baseline), the default 74 M, and intermediate_dim
 * 1536 (224 M).
 */
public final class DriverMemoryBench {
    private static final Pattern AFTER_GC = Pattern.compile("Pause \\S+.*?(\\d+)M->(\\d+)M\\((\\d+)M\\)");

    public static void main(String[] args) throws Exception {
        int steps = Integer.parseInt(args[0]);
        Path project = Path.of(".").toAbsolutePath().normalize();
        Path dir = Files.createTempDirectory(Files.createDirectories(project.resolve("target")), "driver-memory-");
        Map<String, Map<String, Object>> sizes = new LinkedHashMap<>();
        sizes.put("0.2 M (blocks 2, channels 16, intermediate_dim 32)", Map.of("blocks", 2, "channels", 16, "intermediate_dim", 32,
                "context_tokens", 4, "output_dim", 32));
        sizes.put("74 M (default)", Map.of());
        sizes.put("224 M (intermediate_dim 1536)", Map.of("intermediate_dim", 1536));
        System.out.println("| cluster jar | adapter | state | driver peak heap after GC | beyond the state | driver peak RSS |");
        System.out.println("|---|---|---|---|---|---|");
        try (StandaloneCluster cluster = new StandaloneCluster(dir.resolve("cluster"), 2, 1, "8g")) {
            int run = 0;
            for (Map.Entry<String, Map<String, Object>> size : sizes.entrySet()) {
                Map<String, Object> o = new LinkedHashMap<>(size.getValue());
                o.put("manifest", "synthetic");
                AudioProjConfig cfg = AdapterOptions.load(null, List.of(), o).model();
                Path data = dir.resolve("data-" + run);
                Path manifest = SyntheticAdapterData.write(data, cfg, 4 * steps + 4, 3);
                long params = cfg.parameterCount();
                for (int j = 1; j < args.length; j++) {
                    String name = "run-" + run + "-" + j;
                    Path gc = dir.resolve(name + "-gc.log");
                    List<String> cmd = new ArrayList<>(List.of("train-adapter", "--manifest", manifest.toString(), "--output-dir",
                            dir.resolve(name).toString(), "--epochs", "1", "--set", "num_workers=2", "--set", "dashboard_port=0",
                            "--set", "validation_fraction=0.1", "--set", "checkpointing_steps=" + steps));
                    size.getValue().forEach((k, v) -> cmd.addAll(List.of("--set", k + "=" + v)));
                    Process driver = cluster.submit(name, Path.of(args[j]), List.of("-Xmx8g", "-Xlog:gc:file=" + gc,
                            "-Dorg.bytedeco.javacpp.maxbytes=4g", "-Dorg.bytedeco.javacpp.maxphysicalbytes=10g"),
                            List.of("-Dorg.bytedeco.javacpp.maxbytes=5g", "-Dorg.bytedeco.javacpp.maxphysicalbytes=10g"), conf(), cmd);
                    long rssKb = 0;
                    while (!driver.waitFor(200, TimeUnit.MILLISECONDS)) rssKb = Math.max(rssKb, hwmKb(driver.pid()));
                    String out = cluster.output(name);
                    if (driver.exitValue() != 0 || !out.contains("train: done"))
                        throw new IllegalStateException(name + " failed (exit " + driver.exitValue() + "):\n" + tail(out));
                    long peakMb = 0;
                    Matcher m = AFTER_GC.matcher(Files.readString(gc));
                    while (m.find()) peakMb = Math.max(peakMb, Long.parseLong(m.group(2)));
                    double state = 12e-9 * params, heap = peakMb * (1 << 20) / 1e9;
                    System.out.printf("| %s | %s: %,d parameters | %.3f GB | %.3f GB | %+.3f GB (%+.0f %%) | %.2f GB |%n", args[j], size.getKey(), params,
                            state, heap, heap - state, 100 * (heap - state) / state, rssKb / 1e6);
                }
                run++;
            }
        }
    }

    static Map<String, String> conf() {
        Map<String, String> c = new LinkedHashMap<>();
        c.put("spark.executor.cores", "1");
        c.put("spark.cores.max", "2");
        c.put("spark.executor.memory", "2g");
        c.put("spark.executorEnv.OMP_NUM_THREADS", "1");
        c.put("spark.scheduler.minRegisteredResourcesRatio", "1.0");
        c.put("spark.scheduler.maxRegisteredResourcesWaitingTime", "300s");
        c.put("spark.ui.enabled", "false");
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
