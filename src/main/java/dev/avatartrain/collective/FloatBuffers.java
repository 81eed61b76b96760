package dev.avatartrain.collective;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;

/** The buffers the collectives accept, their byte views for the sockets, and the sum of received data into them. */
final class FloatBuffers {
    private FloatBuffers() {
    }

    /** The most floats one call takes: its byte view must fit a Java buffer (2 GiB − 1 bytes). */
    static final int MAX_FLOATS = Integer.MAX_VALUE / Float.BYTES;

    private static final boolean VECTOR = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();

    /**
     * Throws IllegalArgumentException unless {@code data} is a direct buffer in native byte order of at most
     * {@link #MAX_FLOATS} floats from its position to its limit.
     */
    static void check(FloatBuffer data) {
        if (!data.isDirect() || data.order() != ByteOrder.nativeOrder()) {
            throw new IllegalArgumentException("collectives need a direct float buffer in native byte order (an ND4J"
                    + " array's memory or ByteBuffer.allocateDirect(n).order(ByteOrder.nativeOrder()).asFloatBuffer()),"
                    + " not " + (data.isDirect() ? "one in " + data.order() : "a heap buffer"));
        }
        if (data.remaining() > MAX_FLOATS) {
            throw new IllegalArgumentException("one collective call takes at most " + MAX_FLOATS + " floats (2 GiB),"
                    + " not " + data.remaining() + ": pass a larger buffer as several slices, one call each");
        }
    }

    /**
     * The bytes of {@code data}'s position..limit as a native-order byte buffer over the same memory: the JDK has no
     * public way to view a float buffer's memory as bytes (which socket channels and the vector API need), and
     * JavaCPP, under ND4J already, makes one through JNI ({@code GetDirectBufferAddress}, {@code NewDirectByteBuffer}).
     * The float buffer is sliced first: JavaCPP misplaces the address of a view whose position is not 0. The caller
     * keeps {@code data} reachable while it uses the view.
     */
    static ByteBuffer bytes(FloatBuffer data) {
        check(data);
        int n = data.remaining();
        if (n == 0) {
            return ByteBuffer.allocateDirect(0).order(ByteOrder.nativeOrder());
        }
        FloatBuffer slice = data.slice();
        long bytes = (long) n * Float.BYTES;
        BytePointer p = new BytePointer(new FloatPointer(slice));
        ByteBuffer view = p.position(0).limit(bytes).capacity(bytes).asByteBuffer().order(ByteOrder.nativeOrder());
        if (view.remaining() != bytes || !same(view.getFloat(0), slice.get(0))
                || !same(view.getFloat((int) bytes - 4), slice.get(n - 1))) {
            throw new IllegalStateException("JavaCPP's byte view of a float buffer is not over the same memory");
        }
        return view;
    }

    private static boolean same(float a, float b) {
        return Float.floatToRawIntBits(a) == Float.floatToRawIntBits(b);
    }

    /**
     * {@code dst[dstOffset..+bytes) += src[0..bytes)}, floats in native order; {@code bytes} a multiple of 4. Lane-wise
     * IEEE additions, so the result does not depend on whether the loop runs vectorised, compiled or interpreted.
     */
    static void add(ByteBuffer dst, int dstOffset, ByteBuffer src, int bytes) {
        int done = VECTOR ? VectorAdd.add(dst, dstOffset, src, bytes) : 0;
        addScalar(dst, dstOffset, src, done, bytes);
    }

    /** {@link #add}'s plain loop, from byte {@code from} of {@code src} on (the vector loop's tail; and measured). */
    static void addScalar(ByteBuffer dst, int dstOffset, ByteBuffer src, int from, int bytes) {
        for (int i = from; i < bytes; i += Float.BYTES) {
            dst.putFloat(dstOffset + i, dst.getFloat(dstOffset + i) + src.getFloat(i));
        }
    }

    /** The vector API's loop, in its own class so that it is loaded only when the module is present. */
    private static final class VectorAdd {
        private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
        private static final ByteOrder NATIVE = ByteOrder.nativeOrder();

        /** Adds whole vectors and returns the bytes done. */
        static int add(ByteBuffer dst, int dstOffset, ByteBuffer src, int bytes) {
            int step = S.vectorByteSize();
            int bound = bytes - bytes % step;
            for (int i = 0; i < bound; i += step) {
                FloatVector a = FloatVector.fromByteBuffer(S, dst, dstOffset + i, NATIVE);
                a.add(FloatVector.fromByteBuffer(S, src, i, NATIVE)).intoByteBuffer(dst, dstOffset + i, NATIVE);
            }
            return bound;
        }
    }
}
