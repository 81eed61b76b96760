package dev.avatartrain.models.nn;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/**
 * SameDiff 1.0.0-M2.1 prints "Added differentiated op …" to {@code System.out} (no logger) for every op each time
 * it builds a gradient function: hundreds of lines per network. {@link #install()} wraps {@code System.out} once in
 * a stream that drops exactly those lines and passes everything else through unchanged.
 */
public final class QuietSameDiff {
    private static final String NOISE = "Added differentiated op ";
    private static volatile boolean installed;

    private QuietSameDiff() {}

    public static synchronized void install() {
        if (installed) return;
        System.setOut(new PrintStream(new LineFilter(System.out), true, StandardCharsets.UTF_8));
        installed = true;
    }

    /** Buffers per thread until a newline, then forwards the line unless it is SameDiff's noise. */
    private static final class LineFilter extends OutputStream {
        private final PrintStream target;
        private final ThreadLocal<java.io.ByteArrayOutputStream> line = ThreadLocal.withInitial(java.io.ByteArrayOutputStream::new);

        LineFilter(PrintStream target) {
            this.target = target;
        }

        @Override
        public void write(int b) {
            java.io.ByteArrayOutputStream buf = line.get();
            buf.write(b);
            if (b == '\n') flushLine(buf);
        }

        @Override
        public void write(byte[] b, int off, int len) {
            java.io.ByteArrayOutputStream buf = line.get();
            for (int i = off; i < off + len; i++) {
                buf.write(b[i]);
                if (b[i] == '\n') flushLine(buf);
            }
        }

        @Override
        public void flush() {
            java.io.ByteArrayOutputStream buf = line.get();
            if (buf.size() > 0 && !startsWithNoise(buf)) {
                target.write(buf.toByteArray(), 0, buf.size());
                buf.reset();
            }
            target.flush();
        }

        private void flushLine(java.io.ByteArrayOutputStream buf) {
            if (!startsWithNoise(buf)) target.write(buf.toByteArray(), 0, buf.size());
            buf.reset();
        }

        private static boolean startsWithNoise(java.io.ByteArrayOutputStream buf) {
            return buf.size() >= NOISE.length() && buf.toString(StandardCharsets.UTF_8).startsWith(NOISE);
        }
    }
}
