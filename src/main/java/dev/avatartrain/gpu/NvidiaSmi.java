package dev.avatartrain.gpu;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * The NVIDIA GPUs of this machine, through {@code nvidia-smi} (installed with every NVIDIA driver; Spark's own GPU
 * discovery scripts use it too). Written here because no maintained Java library reads it; the CUDA driver API would
 * need the CUDA libraries this check is there to diagnose. {@code -Davatartrain.nvidiaSmi=PATH} names another binary.
 */
public final class NvidiaSmi {
    /** The fields asked for, in this order. {@code compute_cap} needs a driver of 2021 or later (R510+). */
    static final String FIELDS = "index,name,compute_cap,memory.total,driver_version";
    private static final long TIMEOUT_S = 20;

    /** What {@code nvidia-smi} said: the GPUs, or why there are none ({@code problem}, null when it ran). */
    public record Probe(List<GpuInfo> gpus, String problem) {
        /** The GPU with this index (Spark's address), or null. */
        public GpuInfo byIndex(int index) {
            for (GpuInfo g : gpus) if (g.index() == index) return g;
            return null;
        }
    }

    private NvidiaSmi() {}

    /** Asks {@code nvidia-smi}; never throws: a machine without it, or a failing one, is a probe with a problem. */
    public static Probe probe() {
        Path exe = executable();
        if (exe == null) return new Probe(List.of(), "nvidia-smi not found: no NVIDIA driver on this machine");
        try {
            String out = run(exe, "--query-gpu=" + FIELDS, "--format=csv,noheader");
            return new Probe(parse(out), null);
        } catch (IOException | IllegalArgumentException e) {
            return new Probe(List.of(), e.getMessage());
        }
    }

    /** Free and total memory of one GPU in bytes, {@code {free, total}}; null when nvidia-smi cannot say. */
    public static long[] memory(int index) {
        Path exe = executable();
        if (exe == null) return null;
        try {
            String out = run(exe, "--query-gpu=memory.free,memory.total", "--format=csv,noheader,nounits", "-i", String.valueOf(index));
            String[] f = out.strip().split("\\s*,\\s*");
            if (f.length != 2) return null;
            return new long[]{Long.parseLong(f[0].strip()) << 20, Long.parseLong(f[1].strip()) << 20};
        } catch (IOException | NumberFormatException e) {
            return null;
        }
    }

    /**
     * Parses the output of {@code nvidia-smi --query-gpu=index,name,compute_cap,memory.total,driver_version
     * --format=csv,noheader} (with or without {@code nounits}): one GPU a line, e.g.
     * {@code 0, NVIDIA A10G, 8.6, 23028 MiB, 535.183.01}. A name may hold commas: the fields are counted from both ends.
     */
    public static List<GpuInfo> parse(String csv) {
        List<GpuInfo> gpus = new ArrayList<>();
        for (String line : csv.split("\\R")) {
            if (line.isBlank()) continue;
            String[] f = line.split(",");
            if (f.length < 5) throw new IllegalArgumentException("nvidia-smi printed an unexpected line (want " + FIELDS + "): " + line.strip());
            int n = f.length;
            String name = String.join(",", java.util.Arrays.copyOfRange(f, 1, n - 3)).strip();
            try {
                int index = Integer.parseInt(f[0].strip());
                String[] cc = f[n - 3].strip().split("\\.");
                int major = Integer.parseInt(cc[0]);
                int minor = cc.length > 1 ? Integer.parseInt(cc[1]) : 0;
                gpus.add(new GpuInfo(index, name, major, minor, mib(f[n - 2].strip()), f[n - 1].strip()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("nvidia-smi printed an unexpected line (want " + FIELDS + "): " + line.strip());
            }
        }
        return gpus;
    }

    /** "23028 MiB", "23028", or "[N/A]" (some boards do not report it: -1). */
    private static long mib(String s) {
        String v = s.toLowerCase(Locale.ROOT).replace("mib", "").strip();
        if (v.startsWith("[")) return -1;
        return Long.parseLong(v);
    }

    /** The binary asked: {@code -Davatartrain.nvidiaSmi}, else the first on PATH, else the driver's usual path; or null. */
    static Path executable() {
        String named = System.getProperty("avatartrain.nvidiaSmi");
        if (named != null && !named.isBlank()) return Files.isExecutable(Path.of(named)) ? Path.of(named) : null;
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (dir.isEmpty()) continue;
            Path p = Path.of(dir, "nvidia-smi");
            if (Files.isExecutable(p)) return p;
        }
        Path usual = Path.of("/usr/bin/nvidia-smi");
        return Files.isExecutable(usual) ? usual : null;
    }

    private static String run(Path exe, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(exe.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(TIMEOUT_S, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(exe + " did not answer within " + TIMEOUT_S + " s");
            }
            String text = new String(out, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) throw new IOException(exe + " failed (exit " + p.exitValue() + "): " + text.strip());
            return text;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new IOException("interrupted while running " + exe, e);
        }
    }
}
