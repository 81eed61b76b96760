package dev.avatartrain.bench;

import dev.avatartrain.collective.Collective;
import dev.avatartrain.collective.SumLoops;
import dev.avatartrain.collective.TcpRing;
import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.FixedRecvByteBufAllocator;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * The ring collective between two JVMs on loopback, as the engine runs it (one worker per executor JVM): all-reduce
 * of the 74 M adapter's gradients (297 MB) in one call and in 25 MB buckets, a 25 MB bucket alone, reduce-scatter +
 * all-gather (ZeRO-1's pair), the small-message latency; then, in one JVM, the sum loop (vector API against a
 * plain loop) and the loopback's one-way stream rate, through the JDK's channels and through Netty.
 * Run: bench/collective.sh, or bench/java.sh CollectiveBench [chunk KiB] [socket buffer KiB, 0 = the OS's]
 * ({@code --local}: the one-JVM measurements only).
 * This JVM is rank 0 and starts rank 1 as a child JVM with the same flags; rank 0 prints, per case, the median
 * seconds per call, seconds per GB all-reduced (the buffer's bytes / seconds, inverted), GB/s sent per rank, and
 * rank 0's CPU seconds per GB (what the ring costs its thread, whatever else runs on the machine).
 */
public final class CollectiveBench {
    private static final long ADAPTER_BYTES = 297_000_000L;
    private static final long BUCKET_BYTES = 25_000_000L;
    /** CPU time of the calling thread (user + system: the socket copies are system time). */
    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("--local")) { // the one-JVM measurements only
            sumLoops();
            streamCeiling();
            nettyStream();
            return;
        }
        int chunkKiB = args.length > 0 ? Integer.parseInt(args[0]) : 1024;
        int bufferKiB = args.length > 1 ? Integer.parseInt(args[1]) : 0;
        boolean child = args.length > 2 && args[2].equals("--child");
        TcpRing.Settings settings = new TcpRing.Settings(Duration.ofMinutes(1), Duration.ofMinutes(5),
                bufferKiB << 10, chunkKiB << 10);
        TcpRing.Listener listener = TcpRing.listen("127.0.0.1", settings);
        Process rank1 = null;
        List<String> addresses;
        if (child) { // rank 1: publish through stdout, learn rank 0's address from stdin
            System.out.println("ADDRESS " + listener.address());
            System.out.flush();
            String rank0 = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
            addresses = List.of(rank0, listener.address());
        } else {
            List<String> command = new ArrayList<>();
            command.add(ProcessHandle.current().info().command().orElse("java"));
            command.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
            command.addAll(List.of("-cp", System.getProperty("java.class.path"), CollectiveBench.class.getName(),
                    String.valueOf(chunkKiB), String.valueOf(bufferKiB), "--child"));
            rank1 = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            BufferedReader out = new BufferedReader(new InputStreamReader(rank1.getInputStream(),
                    StandardCharsets.UTF_8));
            String line = out.readLine();
            if (line == null || !line.startsWith("ADDRESS ")) {
                throw new IllegalStateException("rank 1's JVM did not start: " + line);
            }
            addresses = List.of(listener.address(), line.substring("ADDRESS ".length()));
            PrintStream in = new PrintStream(rank1.getOutputStream(), true, StandardCharsets.UTF_8);
            in.println(listener.address());
        }
        int rank = child ? 1 : 0;
        try (Collective c = listener.join(rank, addresses)) {
            if (!child) {
                System.out.printf("collective  2 ranks in 2 JVMs on loopback, chunk %d KiB, socket buffers %s%n",
                        chunkKiB, bufferKiB == 0 ? "the OS's" : bufferKiB + " KiB");
                System.out.println("| case | MB | calls timed | median s | s per GB all-reduced | GB/s sent per rank"
                        + " | rank 0's CPU s per GB |");
                System.out.println("|---|---|---|---|---|---|---|");
            }
            FloatBuffer whole = direct(ADAPTER_BYTES);
            measure(c, "all-reduce, one call", whole, Long.MAX_VALUE, 1, 5, false);
            measure(c, "all-reduce in 25 MB buckets", whole, BUCKET_BYTES, 1, 5, false);
            measure(c, "all-reduce, one 25 MB bucket", direct(BUCKET_BYTES), Long.MAX_VALUE, 2, 10, false);
            measure(c, "reduce-scatter + all-gather", whole, Long.MAX_VALUE, 1, 5, true);
            double[] small = new double[4];
            double[] us = new double[300];
            for (int i = -50; i < us.length; i++) {
                long t = System.nanoTime();
                c.allReduce(small);
                if (i >= 0) {
                    us[i] = (System.nanoTime() - t) / 1e3;
                }
            }
            if (!child) {
                System.out.printf("collective  allReduce(double[4]) median %.0f µs over %d calls%n", median(us),
                        us.length);
            }
        }
        if (rank1 != null) {
            int rc = rank1.waitFor();
            if (rc != 0) {
                throw new IllegalStateException("rank 1's JVM exited with " + rc);
            }
            sumLoops();
            streamCeiling();
            nettyStream();
        }
    }

    /**
     * The loopback's own rate: 297 MB written from a direct buffer by one thread and read into another by a second,
     * over one socket, in one JVM: what any transport on these system calls can reach in one direction.
     */
    private static void streamCeiling() throws Exception {
        int bytes = (int) ADAPTER_BYTES;
        ByteBuffer src = ByteBuffer.allocateDirect(bytes);
        ByteBuffer dst = ByteBuffer.allocateDirect(bytes);
        try (ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel out = SocketChannel.open(server.getLocalAddress());
             SocketChannel in = server.accept()) {
            double[] seconds = new double[5];
            for (int i = -1; i < seconds.length; i++) {
                src.clear();
                dst.clear();
                Thread writer = new Thread(() -> {
                    try {
                        while (src.hasRemaining()) {
                            out.write(src);
                        }
                    } catch (java.io.IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                });
                long t = System.nanoTime();
                writer.start();
                while (dst.hasRemaining()) {
                    in.read(dst);
                }
                writer.join();
                if (i >= 0) {
                    seconds[i] = (System.nanoTime() - t) / 1e9;
                }
            }
            System.out.printf("collective  loopback stream, one direction, 297 MB direct to direct: %.2f GB/s%n",
                    bytes / median(seconds) / 1e9);
        }
    }

    /** Times {@code calls} of the case on rank 0, each after a barrier; rank 1 makes the same calls. */
    private static void measure(Collective c, String name, FloatBuffer data, long bucketBytes, int warm, int calls,
                                boolean zero) {
        double[] seconds = new double[calls];
        double[] cpu = new double[calls];
        long sentBefore = 0;
        for (int i = -warm; i < calls; i++) {
            c.barrier();
            if (i == 0) {
                sentBefore = c.bytesSent();
            }
            long t = System.nanoTime();
            long t0 = THREADS.getCurrentThreadCpuTime();
            long bucketFloats = Math.min(bucketBytes / Float.BYTES, data.capacity());
            for (long from = 0; from < data.capacity(); from += bucketFloats) {
                FloatBuffer bucket = data.duplicate().position((int) from)
                        .limit((int) Math.min(data.capacity(), from + bucketFloats));
                if (zero) {
                    c.reduceScatter(bucket);
                    c.allGather(bucket);
                } else {
                    c.allReduce(bucket);
                }
            }
            if (i >= 0) {
                seconds[i] = (System.nanoTime() - t) / 1e9;
                cpu[i] = (THREADS.getCurrentThreadCpuTime() - t0) / 1e9;
            }
        }
        if (c.rank() == 0) {
            double s = median(seconds);
            double gb = data.capacity() * (double) Float.BYTES / 1e9;
            double sentPerCall = (c.bytesSent() - sentBefore) / (double) calls;
            System.out.printf("| %s | %.0f | %d | %.3f | %.2f | %.2f | %.2f |%n", name, gb * 1e3, calls, s, s / gb,
                    sentPerCall / s / 1e9, median(cpu) / gb);
        }
    }

    /**
     * The same stream through Netty (Spark's 4.1, NIO transport, 1 MiB reads): the sender wraps the direct buffer
     * (no copy), the receiver copies each of Netty's buffers into the destination, as a ring's gathering steps
     * would have to, since Netty reads only into buffers of its own allocator.
     */
    private static void nettyStream() throws Exception {
        int bytes = (int) ADAPTER_BYTES;
        ByteBuffer src = ByteBuffer.allocateDirect(bytes);
        ByteBuffer dst = ByteBuffer.allocateDirect(bytes);
        EventLoopGroup serverLoop = new NioEventLoopGroup(1);
        EventLoopGroup clientLoop = new NioEventLoopGroup(1);
        try {
            CountDownLatch[] done = new CountDownLatch[1];
            io.netty.channel.Channel server = new ServerBootstrap().group(serverLoop)
                    .channel(NioServerSocketChannel.class)
                    .childOption(ChannelOption.RCVBUF_ALLOCATOR, new FixedRecvByteBufAllocator(1 << 20))
                    .childHandler(new ChannelInboundHandlerAdapter() {
                        @Override
                        public void channelRead(ChannelHandlerContext ctx, Object msg) {
                            ByteBuf b = (ByteBuf) msg;
                            int n = b.readableBytes();
                            b.getBytes(b.readerIndex(), dst.duplicate().limit(dst.position() + n));
                            dst.position(dst.position() + n);
                            b.release();
                            if (!dst.hasRemaining()) {
                                done[0].countDown();
                            }
                        }
                    }).bind("127.0.0.1", 0).sync().channel();
            io.netty.channel.Channel client = new Bootstrap().group(clientLoop).channel(NioSocketChannel.class)
                    .handler(new ChannelInboundHandlerAdapter()).connect(server.localAddress()).sync().channel();
            double[] seconds = new double[5];
            for (int i = -1; i < seconds.length; i++) {
                dst.clear();
                done[0] = new CountDownLatch(1);
                long t = System.nanoTime();
                client.writeAndFlush(Unpooled.wrappedBuffer(src.duplicate()));
                done[0].await();
                if (i >= 0) {
                    seconds[i] = (System.nanoTime() - t) / 1e9;
                }
            }
            client.close().sync();
            server.close().sync();
            System.out.printf("collective  the same through Netty %s (NIO transport, 1 MiB reads, copied into place):"
                    + " %.2f GB/s%n", io.netty.util.Version.identify().get("netty-transport").artifactVersion(),
                    bytes / median(seconds) / 1e9);
        } finally {
            serverLoop.shutdownGracefully().sync();
            clientLoop.shutdownGracefully().sync();
        }
    }

    /** The ring's sum loop over a 25 MB bucket, vector API against plain, in one JVM. */
    private static void sumLoops() {
        int bytes = (int) BUCKET_BYTES;
        ByteBuffer dst = ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
        ByteBuffer src = ByteBuffer.allocateDirect(bytes).order(ByteOrder.nativeOrder());
        for (int i = 0; i < bytes; i += Float.BYTES) {
            src.putFloat(i, 1e-3f);
        }
        double[] vector = new double[20];
        double[] plain = new double[20];
        for (int round = 0; round < 2; round++) { // the first round warms both loops up
            for (int i = 0; i < vector.length; i++) {
                long t = System.nanoTime();
                SumLoops.add(dst, src, bytes);
                vector[i] = (System.nanoTime() - t) / 1e9;
                t = System.nanoTime();
                SumLoops.addPlain(dst, src, bytes);
                plain[i] = (System.nanoTime() - t) / 1e9;
            }
        }
        System.out.printf("collective  sum loop over 25 MB: vector API %.1f GB/s, plain loop %.1f GB/s (bytes summed"
                + " into / median s)%n", bytes / median(vector) / 1e9, bytes / median(plain) / 1e9);
    }

    private static FloatBuffer direct(long bytes) {
        FloatBuffer b = ByteBuffer.allocateDirect((int) bytes).order(ByteOrder.nativeOrder()).asFloatBuffer();
        for (int i = 0; i < b.capacity(); i++) {
            b.put(i, 1e-3f);
        }
        return b;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
