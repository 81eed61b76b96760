package dev.avatartrain.collective;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

/**
 * Rank 1 of {@link TcpRingTest#ranksInSeparateJvmsAgree} in a JVM of its own: prints its address, reads rank 0's
 * from stdin, all-reduces {@link #values} and checks the sum; exits 0 when every result is right.
 */
public final class RingRankProcess {
    private RingRankProcess() {
    }

    static final int COUNT = 300_001;

    /** Rank r's data: integers, so that the sum is exact in any order. */
    static float[] values(int rank) {
        float[] v = new float[COUNT];
        for (int i = 0; i < COUNT; i++) {
            v[i] = (i * 31 + rank * 7) % 1000 - 500;
        }
        return v;
    }

    static FloatBuffer direct(float[] v) {
        FloatBuffer b = ByteBuffer.allocateDirect(v.length * Float.BYTES).order(ByteOrder.nativeOrder())
                .asFloatBuffer();
        b.put(v).flip();
        return b;
    }

    /** Runs rank {@code rank} of two: all-reduce, double all-reduce, barrier; throws if a result is wrong. */
    static void run(Collective c) {
        FloatBuffer b = direct(values(c.rank()));
        c.allReduce(b);
        float[] a = values(0);
        float[] z = values(1);
        for (int i = 0; i < COUNT; i++) {
            if (b.get(i) != a[i] + z[i]) {
                throw new IllegalStateException("rank " + c.rank() + ": element " + i + " is " + b.get(i)
                        + ", not " + (a[i] + z[i]));
            }
        }
        double[] d = {c.rank() + 1};
        c.allReduce(d);
        if (d[0] != 3) {
            throw new IllegalStateException("rank " + c.rank() + ": the double sum is " + d[0] + ", not 3");
        }
        c.barrier();
    }

    public static void main(String[] args) throws Exception {
        TcpRing.Listener listener = TcpRing.listen("127.0.0.1",
                TcpRing.Settings.DEFAULT.withTimeouts(Duration.ofSeconds(30)));
        System.out.println("ADDRESS " + listener.address());
        System.out.flush();
        String rank0 = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
        try (Collective c = listener.join(1, List.of(rank0, listener.address()))) {
            run(c);
        }
        System.out.println("OK");
    }
}
