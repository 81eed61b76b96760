package dev.avatartrain.collective;

import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/** The buffers the collectives accept, checked the same way by every implementation. */
final class FloatBuffers {
    private FloatBuffers() {
    }

    /** Throws IllegalArgumentException unless {@code data} is a direct buffer in native byte order. */
    static void check(FloatBuffer data) {
        if (!data.isDirect() || data.order() != ByteOrder.nativeOrder()) {
            throw new IllegalArgumentException("collectives need a direct float buffer in native byte order (an ND4J"
                    + " array's memory or ByteBuffer.allocateDirect(n).order(ByteOrder.nativeOrder()).asFloatBuffer()),"
                    + " not " + (data.isDirect() ? "one in " + data.order() : "a heap buffer"));
        }
    }
}
