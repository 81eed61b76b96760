package dev.avatartrain.models.kernels;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Wall time per layer type and direction, summed over all calls, when the JVM runs with
 * {@code -Davatartrain.kernels.profile=true} (bench/unet.sh passes it through UNetBench's {@code profile} argument).
 * Off, {@link #start} returns 0 and {@link #end} does nothing.
 */
public final class Profile {
    private Profile() {
    }

    static final boolean ON = Boolean.getBoolean("avatartrain.kernels.profile");
    private static final Map<String, LongAdder> NANOS = new ConcurrentHashMap<>();
    private static final Map<String, LongAdder> CALLS = new ConcurrentHashMap<>();

    static long start() {
        return ON ? System.nanoTime() : 0;
    }

    /** Adds the time since {@code start} to the entry {@code name + direction}. */
    static void end(String name, String direction, long start) {
        if (ON) {
            String what = name + direction;
            NANOS.computeIfAbsent(what, k -> new LongAdder()).add(System.nanoTime() - start);
            CALLS.computeIfAbsent(what, k -> new LongAdder()).increment();
        }
    }

    /** Milliseconds and calls per entry since the last {@link #reset}, sorted by name. */
    public static Map<String, double[]> snapshot() {
        Map<String, double[]> out = new TreeMap<>();
        NANOS.forEach((k, v) -> out.put(k, new double[] {v.sum() / 1e6, CALLS.get(k).sum()}));
        return out;
    }

    public static void reset() {
        NANOS.clear();
        CALLS.clear();
    }
}
