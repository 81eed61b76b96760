package dev.avatartrain.collective;

import java.nio.ByteBuffer;

/** The ring's sum loops, opened to {@code dev.avatartrain.bench.CollectiveBench} to compare vector and plain. */
public final class SumLoops {
    private SumLoops() {
    }

    /** The loop the ring uses: the vector API's where the module is present. */
    public static void add(ByteBuffer dst, ByteBuffer src, int bytes) {
        FloatBuffers.add(dst, 0, src, bytes);
    }

    /** A plain loop over the same bytes. */
    public static void addPlain(ByteBuffer dst, ByteBuffer src, int bytes) {
        FloatBuffers.addScalar(dst, 0, src, 0, bytes);
    }
}
