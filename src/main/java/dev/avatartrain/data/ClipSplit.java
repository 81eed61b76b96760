package dev.avatartrain.data;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Splits clips (never frames) into training and validation sets, deterministically for a seed and
 * independently of the order clips were listed in.
 */
public record ClipSplit(List<String> train, List<String> validation) {

    /**
     * Holds out {@code round(fraction · n)} clips, at least one when {@code fraction > 0} and there are two
     * or more clips, and never all of them.
     */
    public static ClipSplit of(List<String> clips, double fraction, long seed) {
        List<String> order = new ArrayList<>(clips);
        order.sort(Comparator.comparingLong((String c) -> mix(c.hashCode(), seed)).thenComparing(c -> c));
        int n = order.size();
        int held = (int) Math.round(fraction * n);
        if (fraction > 0 && n >= 2) held = Math.max(1, held);
        held = Math.min(held, n - 1);
        held = Math.max(held, 0);
        List<String> val = new ArrayList<>(order.subList(0, held));
        List<String> train = new ArrayList<>(order.subList(held, n));
        val.sort(null);
        train.sort(null);
        return new ClipSplit(List.copyOf(train), List.copyOf(val));
    }

    private static long mix(long h, long seed) {
        long x = h * 0x9E3779B97F4A7C15L ^ seed * 0xBF58476D1CE4E5B9L;
        x ^= x >>> 31;
        x *= 0x94D049BB133111EBL;
        return x ^ (x >>> 29);
    }
}
