package dev.avatartrain.gpu;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A stand-in {@code nvidia-smi} for machines without a GPU (the tests' spark-submit stand-in's counterpart): a script
 * that prints given lines for the GPU query and the memory query, selected with {@code -Davatartrain.nvidiaSmi}.
 * The lines are in nvidia-smi's real formats (driver 550, from an H100 and an A10G).
 */
public final class StandInNvidiaSmi implements AutoCloseable {
    public static final String A10G = "0, NVIDIA A10G, 8.6, 23028 MiB, 550.54.15";
    public static final String H100 = "0, NVIDIA H100 80GB HBM3, 9.0, 81559 MiB, 550.54.15";
    private final String previous = System.getProperty("avatartrain.nvidiaSmi");

    /** Installs a script printing {@code gpuLines} (and 1000 MiB free of {@code memory.total}) under {@code dir}. */
    public StandInNvidiaSmi(Path dir, String... gpuLines) throws IOException {
        Path exe = dir.resolve("nvidia-smi");
        StringBuilder s = new StringBuilder("#!/bin/sh\ncase \"$*\" in\n  *memory.free*) echo '1000, 23028' ;;\n  *) cat <<'EOF'\n");
        for (String l : gpuLines) s.append(l).append('\n');
        s.append("EOF\n  ;;\nesac\n");
        Files.writeString(exe, s.toString());
        if (!exe.toFile().setExecutable(true)) throw new IOException("cannot make " + exe + " executable");
        System.setProperty("avatartrain.nvidiaSmi", exe.toString());
    }

    /** A machine without an NVIDIA driver: no nvidia-smi at all, whatever this machine has. */
    public static StandInNvidiaSmi absent(Path dir) throws IOException {
        StandInNvidiaSmi s = new StandInNvidiaSmi(dir);
        System.setProperty("avatartrain.nvidiaSmi", dir.resolve("no-such-nvidia-smi").toString());
        return s;
    }

    @Override
    public void close() {
        if (previous == null) System.clearProperty("avatartrain.nvidiaSmi");
        else System.setProperty("avatartrain.nvidiaSmi", previous);
    }
}
