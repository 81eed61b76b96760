package dev.avatartrain.env;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.nd4j.linalg.factory.Nd4j;

import dev.avatartrain.gpu.Backends;
import dev.avatartrain.gpu.CudaBuild;
import dev.avatartrain.gpu.GpuInfo;
import dev.avatartrain.gpu.GpuReport;
import dev.avatartrain.gpu.NvidiaSmi;

/**
 * The installation and the machine, as {@code avatar-train env} prints them: ordered "name: value" fields, one GPU a
 * field. Reading them loads ND4J (to say which backend it took), which takes a second or two.
 */
public final class EnvReport {
    private EnvReport() {}

    /** All fields, in print order. */
    public static Map<String, String> fields() {
        Map<String, String> f = new LinkedHashMap<>();
        BuildInfo build = BuildInfo.current();
        f.put("avatar-train", build.version() + " (git " + build.revision() + ")");
        f.put("Java", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version")
                + " (" + System.getProperty("java.vendor") + ")");
        f.put("OS", System.getProperty("os.name") + " " + System.getProperty("os.version") + " " + System.getProperty("os.arch"));
        f.put("Spark", sparkVersion());
        f.put("Scala", scala.util.Properties.versionNumberString());
        f.put("Hadoop", org.apache.hadoop.util.VersionInfo.getVersion());
        f.put("ND4J", BuildInfo.mavenVersion("org.nd4j", "nd4j-api"));
        NvidiaSmi.Probe probe = NvidiaSmi.probe();
        GpuInfo uncovered = nd4jWouldFailOn(probe);
        if (uncovered != null) {
            // ND4J would take CUDA on a GPU its kernels do not run on, and fail natively: not loaded
            f.put("ND4J backend", "not loaded: ND4J would take CUDA on " + uncovered.describe() + ", which this build cannot run"
                    + " (BACKEND_PRIORITY_CPU=200 takes the CPU backend)");
        } else {
            f.put("ND4J backend", Backends.describe());
            f.put("ND4J native build", nativeBuild());
        }
        f.put("CUDA backend in this jar", CudaBuild.present() ? CudaBuild.LIBRARY + " (" + CudaBuild.COVERAGE + ")"
                : "no (CPU build; mvn -Pcuda package adds it)");
        String why = uncovered == null && CudaBuild.present() && !Backends.cudaLoaded() ? Backends.whyNotCuda() : null;
        if (why != null) f.put("CUDA backend not taken", why);
        f.put("CPU", cpu());
        for (String line : GpuReport.lines(probe, CudaBuild.present())) {
            f.put(line.substring(0, line.indexOf(':')), line.substring(line.indexOf(':') + 2));
        }
        return f;
    }

    /** The fields as text, one "name: value" a line. */
    public static String text(Map<String, String> fields) {
        int width = fields.keySet().stream().mapToInt(String::length).max().orElse(0);
        StringBuilder out = new StringBuilder();
        fields.forEach((k, v) -> out.append(String.format("%-" + (width + 1) + "s %s%n", k + ":", v)));
        return out.toString();
    }

    /** The GPU ND4J would take and fail on: the jar has CUDA, the CPU is not forced, and no GPU seen is covered. */
    static GpuInfo nd4jWouldFailOn(NvidiaSmi.Probe probe) {
        if (!CudaBuild.present() || Backends.cpuForced() || probe.gpus().isEmpty()) return null;
        return probe.gpus().stream().anyMatch(CudaBuild::covers) ? null : probe.gpus().get(0);
    }

    /** One line, as Spark's tools print for --version: the project, its revision, and what it runs on. */
    public static String summary() {
        BuildInfo build = BuildInfo.current();
        return "avatar-train " + build.version() + " (git " + build.revision() + "), Java " + System.getProperty("java.version")
                + ", Spark " + sparkVersion() + ", Hadoop " + org.apache.hadoop.util.VersionInfo.getVersion()
                + ", ND4J " + BuildInfo.mavenVersion("org.nd4j", "nd4j-api") + " on " + backendForSummary();
    }

    private static String backendForSummary() {
        GpuInfo uncovered = CudaBuild.present() ? nd4jWouldFailOn(NvidiaSmi.probe()) : null;
        return uncovered == null ? Backends.describe() : "no backend (" + uncovered.describe() + " is not one this build runs on)";
    }

    private static String sparkVersion() {
        return org.apache.spark.package$.MODULE$.SPARK_VERSION();
    }

    /** What libnd4j was compiled with: the helpers (oneDNN, cuDNN) and the BLAS it calls. */
    private static String nativeBuild() {
        String info = Nd4j.getExecutioner().getEnvironmentInformation().getProperty("blas.vendor", "");
        List<String> parts = new ArrayList<>();
        String build = Nd4j.getBackend().buildInfo();
        for (String helper : List.of("ONEDNN", "MKLDNN", "CUDNN", "ARMCOMPUTE")) {
            if (build != null && build.toUpperCase(Locale.ROOT).contains("HAVE_" + helper)) parts.add(helper.toLowerCase(Locale.ROOT));
        }
        if (!info.isEmpty()) parts.add("BLAS " + info);
        return parts.isEmpty() ? "no helpers" : String.join(", ", parts);
    }

    /** The CPU's model, its cores, and the vector extensions libnd4j's builds target (Linux: /proc/cpuinfo). */
    static String cpu() {
        int cores = Runtime.getRuntime().availableProcessors();
        String model = System.getProperty("os.arch");
        Set<String> flags = new TreeSet<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name") && model.equals(System.getProperty("os.arch"))) model = line.substring(line.indexOf(':') + 1).strip();
                if (line.startsWith("flags") && flags.isEmpty()) flags.addAll(List.of(line.substring(line.indexOf(':') + 1).strip().split("\\s+")));
            }
        } catch (IOException e) {
            return model + ", " + cores + " cores (no /proc/cpuinfo: vector features unknown)";
        }
        List<String> vector = new ArrayList<>();
        for (String f : List.of("avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_bf16", "amx_bf16")) if (flags.contains(f)) vector.add(f.toUpperCase(Locale.ROOT));
        return model + ", " + cores + " cores available, " + (vector.isEmpty() ? "no AVX" : String.join(" ", vector));
    }
}
