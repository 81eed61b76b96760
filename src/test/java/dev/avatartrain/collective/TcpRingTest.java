package dev.avatartrain.collective;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** The ring on real sockets on 127.0.0.1, each rank a thread, against sums computed here. */
class TcpRingTest {
    /** Guards against hangs only; the collectives' own time-outs are what the failure tests check. */
    private static final long GUARD_SECONDS = 60;
    private static final int[] SIZES = {0, 1, 2, 3, 7, 1001, 1_500_001};
    /** 4 KiB chunks: a few MB pass through hundreds of pipelined chunks. */
    private static final TcpRing.Settings SMALL_CHUNKS = new TcpRing.Settings(Duration.ofSeconds(30),
            Duration.ofSeconds(30), 0, 4096);

    private final ExecutorService pool = Executors.newCachedThreadPool();
    private final List<Collective> opened = new ArrayList<>();

    @AfterEach
    void closeAll() {
        opened.forEach(Collective::close);
        pool.shutdownNow();
    }

    /** Listens on n ports and joins n ranks, each on its own thread. */
    private List<Collective> ring(int n, TcpRing.Settings settings) throws Exception {
        List<TcpRing.Listener> listeners = new ArrayList<>();
        List<String> addresses = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            listeners.add(TcpRing.listen("127.0.0.1", settings));
            addresses.add(listeners.get(r).address());
        }
        List<Collective> ranks = onEveryRank(n, r -> listeners.get(r).join(r, addresses));
        opened.addAll(ranks);
        return ranks;
    }

    private interface PerRank<T> {
        T run(int rank) throws Exception;
    }

    private <T> List<T> onEveryRank(int n, PerRank<T> body) throws Exception {
        List<Future<T>> futures = new ArrayList<>();
        for (int r = 0; r < n; r++) {
            int rank = r;
            futures.add(pool.submit((Callable<T>) () -> body.run(rank)));
        }
        List<T> results = new ArrayList<>();
        for (Future<T> f : futures) {
            try {
                results.add(f.get(GUARD_SECONDS, TimeUnit.SECONDS));
            } catch (ExecutionException e) {
                throw (e.getCause() instanceof Exception ex) ? ex : e;
            }
        }
        return results;
    }

    /** A direct native-order buffer of {@code count} floats between two guard regions, positioned on them. */
    private static FloatBuffer framed(float[] values) {
        FloatBuffer all = ByteBuffer.allocateDirect((values.length + 6) * Float.BYTES).order(ByteOrder.nativeOrder())
                .asFloatBuffer();
        for (int i = 0; i < all.capacity(); i++) {
            all.put(i, -12345f);
        }
        all.position(3);
        all.put(values).flip().position(3);
        return all;
    }

    private static float[] contents(FloatBuffer b) {
        float[] v = new float[b.remaining()];
        b.duplicate().get(v);
        return v;
    }

    private static void assertGuardsIntact(FloatBuffer b) {
        for (int i : new int[] {0, 1, 2, b.limit(), b.limit() + 1, b.limit() + 2}) {
            assertEquals(-12345f, b.duplicate().clear().get(i), "the call wrote outside position..limit at " + i);
        }
    }

    /** Small integers: their float sums are exact in any order, so the ring must match the serial sum exactly. */
    private static float[][] integers(int ranks, int count, long seed) {
        Random random = new Random(seed);
        float[][] v = new float[ranks][count];
        for (float[] row : v) {
            for (int i = 0; i < count; i++) {
                row[i] = random.nextInt(2001) - 1000;
            }
        }
        return v;
    }

    private static float[] serialSum(float[][] perRank) {
        float[] sum = new float[perRank[0].length];
        for (float[] row : perRank) {
            for (int i = 0; i < sum.length; i++) {
                sum[i] += row[i];
            }
        }
        return sum;
    }

    private static long sentByAllReduce(int count, int ranks, int rank) {
        long shardOwn = Shards.of(count, ranks, rank).length();
        long shardNext = Shards.of(count, ranks, (rank + 1) % ranks).length();
        return 4L * (count - shardOwn) + 4L * (count - shardNext) + TcpRing.HEADER_BYTES;
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 4})
    void allReduceEqualsTheSerialSumOnEveryRankAndSendsTheRingsBytes(int n) throws Exception {
        // small chunks and socket buffers, so that a few MB go through many pipelined chunks and full buffers
        List<Collective> ranks = ring(n, new TcpRing.Settings(Duration.ofSeconds(30), Duration.ofSeconds(30),
                64 << 10, 16 << 10));
        for (int count : SIZES) {
            float[][] data = integers(n, count, 17 * count + n);
            float[] expected = serialSum(data);
            List<long[]> bytes = onEveryRank(n, r -> {
                Collective c = ranks.get(r);
                FloatBuffer b = framed(data[r]);
                long sent = c.bytesSent();
                long received = c.bytesReceived();
                c.allReduce(b);
                assertArrayEquals(expected, contents(b), "rank " + r + " of " + n + ", " + count + " floats");
                assertGuardsIntact(b);
                return new long[] {c.bytesSent() - sent, c.bytesReceived() - received};
            });
            for (int r = 0; r < n; r++) {
                assertEquals(sentByAllReduce(count, n, r), bytes.get(r)[0], "bytes sent by rank " + r);
                // rank r receives what rank r − 1 sends
                assertEquals(sentByAllReduce(count, n, (r - 1 + n) % n), bytes.get(r)[1], "bytes received, " + r);
            }
        }
    }

    @Test
    void allReduceOfRandomFloatsGivesTheSameBitsOnEveryRank() throws Exception {
        int n = 3;
        List<Collective> ranks = ring(n, TcpRing.Settings.DEFAULT);
        Random random = new Random(3);
        int count = 3_000_001; // over the default 1 MiB chunk in every shard
        float[][] data = new float[n][count];
        for (float[] row : data) {
            for (int i = 0; i < count; i++) {
                row[i] = (float) random.nextGaussian();
            }
        }
        List<float[]> results = onEveryRank(n, r -> {
            FloatBuffer b = framed(data[r]);
            ranks.get(r).allReduce(b);
            return contents(b);
        });
        for (int r = 1; r < n; r++) {
            assertArrayEquals(results.get(0), results.get(r), "rank " + r + " against rank 0");
        }
        for (int i = 0; i < count; i++) {
            double exact = (double) data[0][i] + data[1][i] + data[2][i];
            assertEquals(exact, results.get(0)[i], 1e-5, "element " + i);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 4})
    void reduceScatterLeavesEachRankTheSumOfItsShard(int n) throws Exception {
        List<Collective> ranks = ring(n, SMALL_CHUNKS);
        for (int count : SIZES) {
            float[][] data = integers(n, count, 31 * count + n);
            float[] expected = serialSum(data);
            List<Long> sent = onEveryRank(n, r -> {
                Collective c = ranks.get(r);
                FloatBuffer b = framed(data[r]);
                long before = c.bytesSent();
                c.reduceScatter(b);
                Shard s = Shards.of(count, n, r);
                float[] all = contents(b);
                for (long i = s.offset(); i < s.end(); i++) {
                    assertEquals(expected[(int) i], all[(int) i], "rank " + r + " element " + i + " of " + count);
                }
                assertGuardsIntact(b);
                return c.bytesSent() - before;
            });
            for (int r = 0; r < n; r++) {
                assertEquals(4L * (count - Shards.of(count, n, r).length()) + TcpRing.HEADER_BYTES, sent.get(r));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 4})
    void allGatherGivesEveryRankEveryShard(int n) throws Exception {
        List<Collective> ranks = ring(n, SMALL_CHUNKS);
        for (int count : SIZES) {
            float[] whole = integers(1, count, count)[0];
            onEveryRank(n, r -> {
                float[] mine = new float[count];
                Arrays.fill(mine, Float.NaN); // what is not this rank's shard must be overwritten
                Shard s = Shards.of(count, n, r);
                System.arraycopy(whole, (int) s.offset(), mine, (int) s.offset(), (int) s.length());
                FloatBuffer b = framed(mine);
                ranks.get(r).allGather(b);
                assertArrayEquals(whole, contents(b), "rank " + r + " of " + n + ", " + count + " floats");
                assertGuardsIntact(b);
                return null;
            });
        }
    }

    @Test
    void reduceScatterThenAllGatherIsAnAllReduce() throws Exception {
        int n = 3;
        int count = 100_003;
        List<Collective> ranks = ring(n, TcpRing.Settings.DEFAULT);
        float[][] data = integers(n, count, 5);
        float[] expected = serialSum(data);
        onEveryRank(n, r -> {
            FloatBuffer b = framed(data[r]);
            ranks.get(r).reduceScatter(b);
            ranks.get(r).allGather(b);
            assertArrayEquals(expected, contents(b), "rank " + r);
            return null;
        });
    }

    @ParameterizedTest
    @ValueSource(ints = {2, 3, 4})
    void doubleAllReduceAndBarrierAgreeOnEveryRank(int n) throws Exception {
        List<Collective> ranks = ring(n, TcpRing.Settings.DEFAULT);
        List<double[]> sums = onEveryRank(n, r -> {
            ranks.get(r).barrier();
            double[] v = {r + 0.1, 1.0 / (r + 3), 1, 0};
            ranks.get(r).allReduce(v);
            ranks.get(r).barrier();
            double[] none = {};
            ranks.get(r).allReduce(none);
            return v;
        });
        double[] expected = new double[4];
        for (int r = 0; r < n; r++) { // rank order, as rank 0 sums
            double[] v = {r + 0.1, 1.0 / (r + 3), 1, 0};
            for (int i = 0; i < 4; i++) {
                expected[i] += v[i];
            }
        }
        for (int r = 0; r < n; r++) {
            assertArrayEquals(expected, sums.get(r), "rank " + r);
        }
    }

    @Test
    void aRankThatNeverJoinsFailsTheOthersNamingIt() throws Exception {
        TcpRing.Settings settings = TcpRing.Settings.DEFAULT.withTimeouts(Duration.ofSeconds(2));
        List<TcpRing.Listener> listeners = new ArrayList<>();
        List<String> addresses = new ArrayList<>();
        for (int r = 0; r < 3; r++) {
            listeners.add(TcpRing.listen("127.0.0.1", settings));
            addresses.add(listeners.get(r).address());
        }
        try {
            // rank 2 published its address and then never joined
            List<Throwable> errors = onEveryRank(2, r -> catching(() -> listeners.get(r).join(r, addresses)));
            for (int r = 0; r < 2; r++) {
                assertInstanceOf(CollectiveException.class, errors.get(r), "rank " + r);
                assertTrue(errors.get(r).getMessage().contains("rank 2 (" + addresses.get(2) + ")"),
                        "rank " + r + ": " + errors.get(r).getMessage());
            }
        } finally {
            listeners.get(2).close();
        }
    }

    @Test
    void aRankWhoseAddressRefusesFailsTheJoinNamingIt() throws Exception {
        TcpRing.Settings settings = TcpRing.Settings.DEFAULT.withTimeouts(Duration.ofSeconds(2));
        TcpRing.Listener gone = TcpRing.listen("127.0.0.1", settings);
        TcpRing.Listener alive = TcpRing.listen("127.0.0.1", settings);
        List<String> addresses = List.of(alive.address(), gone.address());
        gone.close(); // rank 1 died before joining: its port refuses
        Throwable e = catching(() -> alive.join(0, addresses));
        assertInstanceOf(CollectiveException.class, e);
        assertTrue(e.getMessage().contains("rank 1") && e.getMessage().contains(addresses.get(1)), e.getMessage());
    }

    @Test
    void aRankThatStopsCallingFailsItsSuccessorWithinTheTimeOut() throws Exception {
        List<Collective> ranks = ring(3, TcpRing.Settings.DEFAULT.withTimeouts(Duration.ofSeconds(2)));
        // ranks 0 and 1 all-reduce; rank 2 is alive but never calls
        List<Throwable> errors = onEveryRank(2, r -> catching(() -> ranks.get(r).allReduce(framed(new float[10]))));
        assertInstanceOf(CollectiveException.class, errors.get(0));
        assertTrue(errors.get(0).getMessage().contains("rank 2 at"), errors.get(0).getMessage());
        assertInstanceOf(CollectiveException.class, errors.get(1));
    }

    @Test
    void aBarrierNamesTheRankThatDidNotArrive() throws Exception {
        List<Collective> ranks = ring(4, TcpRing.Settings.DEFAULT.withTimeouts(Duration.ofSeconds(2)));
        List<Throwable> errors = onEveryRank(4, r -> r == 2 ? null : catching(ranks.get(r)::barrier));
        for (int r : new int[] {0, 1, 3}) {
            assertInstanceOf(CollectiveException.class, errors.get(r), "rank " + r);
            assertTrue(errors.get(r).getMessage().startsWith("rank 2 ("), "rank " + r + ": " + errors.get(r));
        }
    }

    @Test
    void aRankThatClosesFailsTheOthersAtOnceNotAtTheTimeOut() throws Exception {
        // the time-out is far beyond the guard: only the closed connections can end the others' calls
        List<Collective> ranks = ring(3, TcpRing.Settings.DEFAULT.withTimeouts(Duration.ofMinutes(10)));
        FloatBuffer big = framed(new float[4_000_000]);
        FloatBuffer big1 = framed(new float[4_000_000]);
        Future<Throwable> r0 = pool.submit(() -> catching(() -> ranks.get(0).allReduce(big)));
        Future<Throwable> r1 = pool.submit(() -> catching(() -> ranks.get(1).allReduce(big1)));
        Thread.sleep(300); // ranks 0 and 1 are inside allReduce, waiting for rank 2
        ranks.get(2).close();
        Throwable e0 = r0.get(GUARD_SECONDS, TimeUnit.SECONDS);
        Throwable e1 = r1.get(GUARD_SECONDS, TimeUnit.SECONDS);
        assertInstanceOf(CollectiveException.class, e0);
        assertTrue(e0.getMessage().contains("rank 2 at") && e0.getMessage().contains("closed"), e0.getMessage());
        assertInstanceOf(CollectiveException.class, e1);
        // a failed collective is closed: later calls fail at once
        assertThrows(CollectiveException.class, () -> ranks.get(0).barrier());
    }

    @Test
    void closeFromAnotherThreadEndsABlockedCall() throws Exception {
        List<Collective> ranks = ring(2, TcpRing.Settings.DEFAULT.withTimeouts(Duration.ofMinutes(10)));
        Future<Throwable> blocked = pool.submit(() -> catching(() -> ranks.get(0).allReduce(framed(new float[5]))));
        Thread.sleep(300); // rank 1 never calls
        ranks.get(0).close();
        Throwable e = blocked.get(GUARD_SECONDS, TimeUnit.SECONDS);
        assertInstanceOf(CollectiveException.class, e);
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
    }

    @Test
    void differentCallsOnDifferentRanksAreNamed() throws Exception {
        List<Collective> ranks = ring(2, TcpRing.Settings.DEFAULT.withTimeouts(Duration.ofSeconds(5)));
        List<Throwable> errors = onEveryRank(2, r -> catching(() -> ranks.get(r).allReduce(framed(new float[10 + r]))));
        for (Throwable e : errors) {
            assertInstanceOf(CollectiveException.class, e);
        }
        assertTrue(errors.get(0).getMessage().contains("same calls"), errors.get(0).getMessage());
    }

    @Test
    void ranksInSeparateJvmsAgree() throws Exception {
        TcpRing.Listener listener = TcpRing.listen("127.0.0.1",
                TcpRing.Settings.DEFAULT.withTimeouts(Duration.ofSeconds(30)));
        List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), RingRankProcess.class.getName()));
        Process child = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(),
                    StandardCharsets.UTF_8));
            String line = out.readLine();
            assertTrue(line != null && line.startsWith("ADDRESS "), "rank 1's JVM printed " + line);
            new PrintStream(child.getOutputStream(), true, StandardCharsets.UTF_8).println(listener.address());
            try (Collective c = listener.join(0, List.of(listener.address(), line.substring(8)))) {
                RingRankProcess.run(c);
            }
            assertEquals("OK", out.readLine(), "rank 1's JVM");
            assertTrue(child.waitFor(GUARD_SECONDS, TimeUnit.SECONDS), "rank 1's JVM did not exit");
            assertEquals(0, child.exitValue());
        } finally {
            child.destroyForcibly();
        }
    }

    @Test
    void anNd4jArraysMemoryIsAllReducedInPlace() throws Exception {
        List<Collective> ranks = ring(2, TcpRing.Settings.DEFAULT);
        float[][] data = integers(2, 1003, 11);
        List<INDArray> arrays = onEveryRank(2, r -> {
            INDArray a = Nd4j.createFromArray(data[r]);
            ranks.get(r).allReduce(a.data().asNioFloat());
            return a;
        });
        for (INDArray a : arrays) {
            assertArrayEquals(serialSum(data), a.toFloatVector());
        }
    }

    @Test
    void oneRankIsLocalAndHeapBuffersAreRefused() throws Exception {
        TcpRing.Listener l = TcpRing.listen("127.0.0.1");
        try (Collective c = l.join(0, List.of(l.address()))) {
            assertInstanceOf(LocalCollective.class, c);
            FloatBuffer b = framed(new float[] {1, 2, 3});
            c.allReduce(b);
            assertArrayEquals(new float[] {1, 2, 3}, contents(b));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> c.allReduce(FloatBuffer.allocate(4)));
            assertTrue(e.getMessage().contains("direct"), e.getMessage());
        }
    }

    private interface Action {
        void run() throws Exception;
    }

    private static Throwable catching(Action a) {
        try {
            a.run();
            return null;
        } catch (Throwable t) {
            return t;
        }
    }
}
