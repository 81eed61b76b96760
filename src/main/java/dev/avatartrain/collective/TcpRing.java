package dev.avatartrain.collective;

import java.io.IOException;
import java.lang.ref.Reference;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.TreeMap;

/**
 * The CPU collective: a bandwidth-optimal ring over TCP. Each rank sends to rank + 1 and receives from rank − 1
 * (mod size); a reduce-scatter is size − 1 steps, each passing one shard on and adding the one received; an
 * all-gather is size − 1 steps passing the finished shards; an all-reduce is both, so each rank sends
 * 2(N − 1)/N × the buffer's bytes whatever N is. Within a call the steps are pipelined by chunks: the part of a shard
 * already reduced goes on to the next rank while the rest is still arriving, so sending, receiving and adding overlap.
 * Small messages (the double all-reduce, the barrier) go through rank 0 instead (a star: two hops rather than
 * 2(N − 1)), which also lets rank 0 name every rank that failed to arrive.
 *
 * <p>Rendezvous is the caller's: every rank {@link #listen}s, publishes {@link Listener#address()} (the engine
 * through Spark's {@code BarrierTaskContext.allGather}), then calls {@link Listener#join} with all ranks' addresses.
 * Transport: the JDK's non-blocking socket channels, one selector per rank, data read and written straight from
 * and into the caller's buffer (no Java copies, no serialisation); docs/engine.md, "The collective transport",
 * says why not Netty, Gloo, UCX, Aeron or XGBoost's collective.
 *
 * <p>A peer that does not connect, or sends and takes nothing for {@link Settings#timeout()} inside an operation, or
 * closes its connection, fails the operation with a {@link CollectiveException} naming its rank and address; this
 * rank then closes its connections, so its own neighbours fail in turn instead of waiting.
 */
public final class TcpRing implements Collective {

    /**
     * How the ring connects and waits.
     *
     * @param connectTimeout    how long {@link Listener#join} waits for all ranks to connect and confirm
     * @param timeout           how long an operation waits for a peer that sends and takes nothing (a slower
     *                          rank still computing counts: set it above the longest skew between workers)
     * @param socketBufferBytes SO_SNDBUF and SO_RCVBUF; 0 leaves them to the operating system's auto-tuning
     * @param chunkBytes        the unit in which received data is added and passed on (a multiple of 4)
     */
    public record Settings(Duration connectTimeout, Duration timeout, int socketBufferBytes, int chunkBytes) {

        /** Two minutes to connect, ten minutes of silence inside an operation, OS socket buffers, 1 MiB chunks. */
        public static final Settings DEFAULT = new Settings(Duration.ofMinutes(2), Duration.ofMinutes(10), 0, 1 << 20);

        public Settings {
            Objects.requireNonNull(connectTimeout, "connectTimeout");
            Objects.requireNonNull(timeout, "timeout");
            if (connectTimeout.isNegative() || connectTimeout.isZero() || timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("the collective's time-outs must be positive, not connect "
                        + connectTimeout + " and operation " + timeout);
            }
            if (socketBufferBytes < 0 || chunkBytes < Float.BYTES || chunkBytes % Float.BYTES != 0) {
                throw new IllegalArgumentException("the collective needs socketBufferBytes >= 0 and chunkBytes a"
                        + " positive multiple of 4, not " + socketBufferBytes + " and " + chunkBytes);
            }
        }

        /** These settings with both time-outs set to {@code t}. */
        public Settings withTimeouts(Duration t) {
            return new Settings(t, t, socketBufferBytes, chunkBytes);
        }
    }

    /** Bytes that head each ring operation: its code and its length, checked against the predecessor's. */
    static final int HEADER_BYTES = 16;

    private static final int MAGIC = 0x41545231; // "ATR1"
    private static final int RING = 1;
    private static final int CONTROL = 2;
    private static final int OP_ALL_REDUCE = 1;
    private static final int OP_REDUCE_SCATTER = 2;
    private static final int OP_ALL_GATHER = 3;
    private static final int OP_BARRIER = 4;
    private static final int OP_SUM_DOUBLES = 5;
    private static final int REPLY_OK = 0;
    private static final int REPLY_ABORT = 1;
    private static final String[] OP_NAMES = {"", "allReduce", "reduceScatter", "allGather", "barrier",
        "allReduce(double[])"};

    /** Every rank listens before any joins; {@link #join} connects them. */
    public static Listener listen(String bindHost) {
        return listen(bindHost, Settings.DEFAULT);
    }

    public static Listener listen(String bindHost, Settings settings) {
        return new Listener(bindHost, settings);
    }

    /** A bound server socket whose address the caller publishes to the other ranks. */
    public static final class Listener implements AutoCloseable {
        private final ServerSocketChannel server;
        private final Settings settings;
        private final String address;

        private Listener(String bindHost, Settings settings) {
            this.settings = Objects.requireNonNull(settings, "settings");
            try {
                server = ServerSocketChannel.open();
                if (settings.socketBufferBytes() > 0) { // before bind, so that accepted sockets scale their window
                    server.setOption(StandardSocketOptions.SO_RCVBUF, settings.socketBufferBytes());
                }
                server.bind(new InetSocketAddress(bindHost, 0), 4096);
                server.configureBlocking(false);
                InetAddress host = ((InetSocketAddress) server.getLocalAddress()).getAddress();
                String published = host.isAnyLocalAddress() ? InetAddress.getLocalHost().getHostAddress() : bindHost;
                address = hostPort(published, ((InetSocketAddress) server.getLocalAddress()).getPort());
            } catch (IOException e) {
                throw new CollectiveException("could not listen for the collective on " + bindHost + ": " + e, e);
            }
        }

        /** {@code host:port} for the other ranks to connect to. */
        public String address() {
            return address;
        }

        /**
         * Connects this rank to its ring neighbours (and to rank 0, or rank 0 to all) and returns when every rank has
         * joined, within the settings' connect time-out; closes this listener. One rank gives a
         * {@link LocalCollective}.
         *
         * @param addressesByRank every rank's {@link #address()}, in rank order, the same list on every rank
         */
        public Collective join(int rank, List<String> addressesByRank) {
            return join(rank, addressesByRank, settings.connectTimeout());
        }

        /** {@link #join(int, List)} with its own connect time-out. */
        public Collective join(int rank, List<String> addressesByRank, Duration connectTimeout) {
            int size = addressesByRank.size();
            if (rank < 0 || rank >= size) {
                close();
                throw new IllegalArgumentException("rank " + rank + " is not among the " + size + " addresses given");
            }
            if (!addressesByRank.get(rank).equals(address)) {
                close();
                throw new IllegalArgumentException("rank " + rank + "'s address in the list is "
                        + addressesByRank.get(rank) + ", but this listener is at " + address);
            }
            if (size == 1) {
                close();
                return new LocalCollective();
            }
            Settings s = new Settings(connectTimeout, settings.timeout(), settings.socketBufferBytes(),
                    settings.chunkBytes());
            TcpRing ring = new TcpRing(rank, List.copyOf(addressesByRank), s);
            try {
                ring.connect(server);
                return ring;
            } catch (RuntimeException e) {
                ring.close();
                throw e;
            } finally {
                close();
            }
        }

        @Override
        public void close() {
            try {
                server.close();
            } catch (IOException e) {
                // nothing to do: the port is released either way
            }
        }
    }

    private final int rank;
    private final int size;
    private final List<String> addresses;
    private final Settings settings;
    private final long timeoutNanos;
    private Peer out;
    private Peer in;
    /** Rank 0: the control links of ranks 1..size−1 (index = rank); other ranks: element 0, the link to rank 0. */
    private final Peer[] control;
    private Selector ringSelector;
    private Selector controlSelector;
    private ByteBuffer scratch;
    private volatile boolean closed;
    private volatile long bytesSent;
    private volatile long bytesReceived;

    private TcpRing(int rank, List<String> addresses, Settings settings) {
        this.rank = rank;
        this.size = addresses.size();
        this.addresses = addresses;
        this.settings = settings;
        this.timeoutNanos = settings.timeout().toNanos();
        this.control = new Peer[size];
    }

    @Override
    public int rank() {
        return rank;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public long bytesSent() {
        return bytesSent;
    }

    @Override
    public long bytesReceived() {
        return bytesReceived;
    }

    // ---- connecting ----------------------------------------------------------------------------------------------

    private void connect(ServerSocketChannel server) {
        long deadline = System.nanoTime() + settings.connectTimeout().toNanos();
        try {
            ringSelector = Selector.open();
            controlSelector = Selector.open();
            out = dial((rank + 1) % size, RING, deadline);
            if (rank != 0) {
                control[0] = dial(0, CONTROL, deadline);
            }
            accept(server, deadline);
            out.channel().register(ringSelector, 0);
            in.channel().register(ringSelector, 0);
            for (Peer p : control) {
                if (p != null) {
                    p.channel().register(controlSelector, 0);
                }
            }
            scratch = ByteBuffer.allocateDirect(settings.chunkBytes()).order(ByteOrder.nativeOrder());
        } catch (IOException e) {
            throw new CollectiveException("rank " + rank + " could not set up the collective: " + e, e);
        }
        star(OP_BARRIER, new double[0], settings.connectTimeout().toNanos(), "joining");
        bytesSent = 0;
        bytesReceived = 0;
    }

    /** Connects to rank {@code to}, retrying while it refuses (not listening yet), and says who this is. */
    private Peer dial(int to, int kind, long deadline) throws IOException {
        String address = addresses.get(to);
        InetSocketAddress target = socketAddress(address);
        IOException last = null;
        while (System.nanoTime() < deadline) {
            SocketChannel ch = SocketChannel.open();
            try {
                configure(ch);
                ch.configureBlocking(false);
                Peer peer = new Peer(to, address, ch);
                if (!ch.connect(target)) {
                    try (Selector sel = Selector.open()) {
                        ch.register(sel, SelectionKey.OP_CONNECT);
                        while (!ch.finishConnect()) {
                            long left = deadline - System.nanoTime();
                            if (left <= 0) {
                                throw new CollectiveException("rank " + rank + " could not connect to "
                                        + peer.name() + " within " + settings.connectTimeout() + ": no answer");
                            }
                            checkInterrupt("joining");
                            sel.select(Math.max(1, left / 1_000_000));
                        }
                    }
                }
                ByteBuffer hello = ByteBuffer.allocate(16).putInt(MAGIC).putInt(kind).putInt(rank).putInt(size).flip();
                writeFully(peer, hello, deadline, "joining");
                return peer;
            } catch (IOException e) { // refused or unreachable: the peer may not be listening yet
                ch.close();
                last = e;
                sleep(50);
            } catch (RuntimeException e) {
                ch.close();
                throw e;
            }
        }
        throw new CollectiveException("rank " + rank + " could not connect to rank " + to + " at " + address
                + " within " + settings.connectTimeout() + (last == null ? "" : ": " + last));
    }

    /** Accepts the predecessor's ring link and, on rank 0, every other rank's control link. */
    private void accept(ServerSocketChannel server, long deadline) throws IOException {
        int pred = (rank - 1 + size) % size;
        try (Selector sel = Selector.open()) {
            server.register(sel, SelectionKey.OP_ACCEPT);
            while (in == null || (rank == 0 && countControl() < size - 1)) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    String missing = missingAtJoin(pred);
                    if (rank == 0) {
                        abortControls(missing);
                    }
                    throw new CollectiveException(missing);
                }
                checkInterrupt("joining");
                sel.select(Math.max(1, left / 1_000_000));
                sel.selectedKeys().clear();
                SocketChannel ch;
                while ((ch = server.accept()) != null) {
                    configure(ch);
                    ch.configureBlocking(false);
                    Peer unknown = new Peer(-1, String.valueOf(ch.getRemoteAddress()), ch);
                    ByteBuffer hello = ByteBuffer.allocate(16);
                    readFully(unknown, hello, deadline, "joining");
                    hello.flip();
                    int magic = hello.getInt();
                    int kind = hello.getInt();
                    int from = hello.getInt();
                    int theirSize = hello.getInt();
                    if (magic != MAGIC || theirSize != size || from < 0 || from >= size) {
                        ch.close();
                        throw new CollectiveException("rank " + rank + " was contacted by " + unknown.address()
                                + " with a greeting that is not this collective's (" + (magic == MAGIC
                                ? "rank " + from + " of " + theirSize + " ranks, this collective has " + size
                                : "not the collective's protocol") + ")");
                    }
                    Peer peer = new Peer(from, addresses.get(from), ch);
                    if (kind == RING && from == pred && in == null) {
                        in = peer;
                    } else if (kind == CONTROL && rank == 0 && control[from] == null) {
                        control[from] = peer;
                    } else {
                        ch.close();
                        throw new CollectiveException("rank " + rank + " got an unexpected " + (kind == RING
                                ? "ring" : "control") + " connection from " + peer.name() + ": are two jobs"
                                + " sharing these addresses?");
                    }
                }
            }
        }
    }

    private int countControl() {
        int n = 0;
        for (Peer p : control) {
            n += p == null ? 0 : 1;
        }
        return n;
    }

    private String missingAtJoin(int pred) {
        TreeMap<Integer, String> missing = new TreeMap<>();
        if (in == null) {
            missing.put(pred, addresses.get(pred));
        }
        if (rank == 0) {
            for (int r = 1; r < size; r++) {
                if (control[r] == null) {
                    missing.put(r, addresses.get(r));
                }
            }
        }
        return describe(missing) + " did not connect to rank " + rank + " within " + settings.connectTimeout()
                + ": not started, failed before joining, or unreachable from here";
    }

    private static String describe(TreeMap<Integer, String> ranks) {
        List<String> parts = new ArrayList<>();
        ranks.forEach((r, a) -> parts.add(r + " (" + a + ")"));
        return (ranks.size() == 1 ? "rank " : "ranks ") + String.join(", ", parts);
    }

    private void configure(SocketChannel ch) throws IOException {
        ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
        if (settings.socketBufferBytes() > 0) {
            ch.setOption(StandardSocketOptions.SO_SNDBUF, settings.socketBufferBytes());
            ch.setOption(StandardSocketOptions.SO_RCVBUF, settings.socketBufferBytes());
        }
    }

    // ---- the ring ------------------------------------------------------------------------------------------------

    @Override
    public void allReduce(FloatBuffer data) {
        ring(data, OP_ALL_REDUCE, 0, 2 * (size - 1));
    }

    @Override
    public void reduceScatter(FloatBuffer data) {
        ring(data, OP_REDUCE_SCATTER, 0, size - 1);
    }

    @Override
    public void allGather(FloatBuffer data) {
        ring(data, OP_ALL_GATHER, size - 1, 2 * (size - 1));
    }

    /**
     * Runs ring steps {@code first..last−1} over {@code data}: steps 0..size−2 reduce (receive a shard and add it),
     * steps size−1..2·size−3 gather (receive a finished shard in place). Step s sends what step s − 1 received, so a
     * chunk goes on as soon as it is added; a gathering step starts receiving only when every earlier send is done,
     * as it overwrites a shard sent before.
     */
    private void ring(FloatBuffer floats, int op, int first, int last) {
        ensureOpen(op);
        FloatBuffer keep = floats; // the byte view does not keep the float buffer's memory reachable
        ByteBuffer data = FloatBuffers.bytes(floats);
        int count = floats.remaining();
        try {
            exchangeHeader(op, count);
            ByteBuffer sendView = data.duplicate();
            ByteBuffer recvView = data.duplicate();
            int chunk = settings.chunkBytes();
            int sendStep = first;
            int sendPos = 0;
            int recvStep = first;
            int recvDone = 0;
            int fill = 0;
            long lastProgress = System.nanoTime();
            while (sendStep < last || recvStep < last) {
                boolean moved = false;
                boolean wantWrite = false;
                boolean wantRead = false;
                if (sendStep < last) {
                    Shard shard = Shards.of(count, size, sendSegment(sendStep));
                    int off = (int) shard.offset() * Float.BYTES;
                    int len = (int) shard.length() * Float.BYTES;
                    int ready = sendStep == first || recvStep >= sendStep ? len : recvDone;
                    if (sendPos < ready) {
                        sendView.limit(off + ready).position(off + sendPos);
                        int n = out.channel().write(sendView);
                        bytesSent += n;
                        sendPos += n;
                        moved |= n > 0;
                        wantWrite = n == 0;
                    }
                    if (sendPos == len) {
                        sendStep++;
                        sendPos = 0;
                        moved = true;
                    }
                }
                if (recvStep < last && (recvStep < size - 1 || sendStep >= recvStep)) {
                    Shard shard = Shards.of(count, size, recvSegment(recvStep));
                    int off = (int) shard.offset() * Float.BYTES;
                    int len = (int) shard.length() * Float.BYTES;
                    if (recvDone < len && recvStep < size - 1) { // reduce: into the scratch chunk, then add
                        int want = Math.min(chunk, len - recvDone);
                        scratch.limit(want).position(fill);
                        int n = read(in, scratch, OP_NAMES[op]);
                        fill += n;
                        moved |= n > 0;
                        wantRead = n == 0;
                        if (fill == want) {
                            FloatBuffers.add(data, off + recvDone, scratch, want);
                            recvDone += want;
                            fill = 0;
                        }
                    } else if (recvDone < len) { // gather: straight into place
                        recvView.limit(off + len).position(off + recvDone);
                        int n = read(in, recvView, OP_NAMES[op]);
                        recvDone += n;
                        moved |= n > 0;
                        wantRead = n == 0;
                    }
                    if (recvDone == len) {
                        recvStep++;
                        recvDone = 0;
                        moved = true;
                    }
                }
                if (moved) {
                    lastProgress = System.nanoTime();
                } else {
                    await(ringSelector, wantWrite ? out : null, wantRead ? in : null, lastProgress, op);
                }
            }
        } catch (IOException e) {
            throw fail(new CollectiveException("rank " + rank + " lost its ring connection (to " + out.name()
                    + " or from " + in.name() + ") during " + OP_NAMES[op] + ": " + e, e), op);
        } catch (RuntimeException e) {
            throw fail(e, op);
        } finally {
            Reference.reachabilityFence(keep);
        }
    }

    /** Ring step s sends this shard: a partial sum while reducing, a finished one while gathering. */
    private int sendSegment(int step) {
        return step < size - 1 ? Math.floorMod(rank - 1 - step, size) : Math.floorMod(rank - (step - size + 1), size);
    }

    /** Ring step s receives this shard, which step s + 1 sends on. */
    private int recvSegment(int step) {
        return step < size - 1 ? Math.floorMod(rank - 2 - step, size)
                : Math.floorMod(rank - (step - size + 1) - 1, size);
    }

    /** Sends this operation's code and length to the successor and checks the predecessor's against them. */
    private void exchangeHeader(int op, int count) throws IOException {
        ByteBuffer mine = ByteBuffer.allocate(HEADER_BYTES).putInt(MAGIC).putInt(op).putLong(count).flip();
        ByteBuffer theirs = ByteBuffer.allocate(HEADER_BYTES);
        long lastProgress = System.nanoTime();
        while (mine.hasRemaining() || theirs.hasRemaining()) {
            int w = mine.hasRemaining() ? out.channel().write(mine) : 0;
            int r = theirs.hasRemaining() ? read(in, theirs, OP_NAMES[op]) : 0;
            bytesSent += w;
            if (w + r > 0) {
                lastProgress = System.nanoTime();
            } else {
                await(ringSelector, mine.hasRemaining() ? out : null, theirs.hasRemaining() ? in : null,
                        lastProgress, op);
            }
        }
        theirs.flip();
        int magic = theirs.getInt();
        int theirOp = theirs.getInt();
        long theirCount = theirs.getLong();
        if (magic != MAGIC || theirOp != op || theirCount != count) {
            throw new CollectiveException(in.name() + " called " + (magic == MAGIC && theirOp > 0
                    && theirOp < OP_NAMES.length ? OP_NAMES[theirOp] + " on " + theirCount + " floats" : "something"
                    + " else") + " where rank " + rank + " called " + OP_NAMES[op] + " on " + count + " floats: every"
                    + " rank must make the same calls in the same order");
        }
    }

    // ---- small messages through rank 0 ---------------------------------------------------------------------------

    @Override
    public void allReduce(double[] values) {
        ensureOpen(OP_SUM_DOUBLES);
        double[] sum = star(OP_SUM_DOUBLES, values, timeoutNanos, OP_NAMES[OP_SUM_DOUBLES]);
        System.arraycopy(sum, 0, values, 0, values.length);
    }

    @Override
    public void barrier() {
        ensureOpen(OP_BARRIER);
        star(OP_BARRIER, new double[0], timeoutNanos, OP_NAMES[OP_BARRIER]);
    }

    /**
     * Every rank sends (op, values) to rank 0, which waits up to {@code waitNanos} for all, sums in rank order and
     * answers each; a rank missing or calling something else gets every other rank an abort naming it.
     */
    private double[] star(int op, double[] values, long waitNanos, String what) {
        try {
            return rank == 0 ? gatherAtRoot(op, values, waitNanos, what) : askRoot(op, values, waitNanos, what);
        } catch (IOException e) {
            throw fail(new CollectiveException("rank " + rank + " lost a connection during " + what + ": " + e, e),
                    op);
        } catch (RuntimeException e) {
            throw fail(e, op);
        }
    }

    private double[] gatherAtRoot(int op, double[] values, long waitNanos, String what) throws IOException {
        ByteBuffer[] got = new ByteBuffer[size];
        for (int r = 1; r < size; r++) {
            got[r] = ByteBuffer.allocate(8 + 8 * values.length);
            control[r].channel().keyFor(controlSelector).interestOps(SelectionKey.OP_READ);
        }
        long deadline = System.nanoTime() + waitNanos;
        while (true) {
            TreeMap<Integer, String> missing = new TreeMap<>();
            for (int r = 1; r < size; r++) {
                if (got[r].hasRemaining()) {
                    int n = read(control[r], got[r], what);
                    if (got[r].position() >= 8) {
                        int theirOp = got[r].getInt(0);
                        int theirCount = got[r].getInt(4);
                        if (theirOp != op || theirCount != values.length) {
                            String msg = control[r].name() + " called " + (theirOp > 0 && theirOp < OP_NAMES.length
                                    ? OP_NAMES[theirOp] : "something else") + " with " + theirCount + " values where"
                                    + " rank 0 called " + what + " with " + values.length + ": every rank must make"
                                    + " the same calls in the same order";
                            abortControls(msg);
                            throw new CollectiveException(msg);
                        }
                    }
                    if (got[r].hasRemaining()) {
                        missing.put(r, addresses.get(r));
                    }
                }
            }
            if (missing.isEmpty()) {
                break;
            }
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                String msg = describe(missing) + " did not arrive at " + what + " within "
                        + Duration.ofNanos(waitNanos) + " (rank 0 waited): stuck, failed, or much slower than the rest";
                abortControls(msg);
                throw new CollectiveException(msg);
            }
            checkInterrupt(what);
            controlSelector.select(Math.max(1, left / 1_000_000));
            controlSelector.selectedKeys().clear();
            ensureOpen(op);
        }
        double[] sum = values.clone();
        for (int r = 1; r < size; r++) { // in rank order, so that every run and every rank gets the same bits
            for (int i = 0; i < sum.length; i++) {
                sum[i] += got[r].getDouble(8 + 8 * i);
            }
        }
        ByteBuffer reply = ByteBuffer.allocate(8 + 8 * sum.length).putInt(REPLY_OK).putInt(sum.length);
        for (double v : sum) {
            reply.putDouble(v);
        }
        reply.flip();
        long replyDeadline = System.nanoTime() + timeoutNanos;
        for (int r = 1; r < size; r++) {
            control[r].channel().keyFor(controlSelector).interestOps(0);
            writeFully(control[r], reply.duplicate(), replyDeadline, what);
        }
        return sum;
    }

    private double[] askRoot(int op, double[] values, long waitNanos, String what) throws IOException {
        Peer root = control[0];
        ByteBuffer msg = ByteBuffer.allocate(8 + 8 * values.length).putInt(op).putInt(values.length);
        for (double v : values) {
            msg.putDouble(v);
        }
        msg.flip();
        // rank 0 waits waitNanos for the slowest rank, then answers: wait a little longer than it
        long deadline = System.nanoTime() + waitNanos + Math.min(waitNanos / 10, 30_000_000_000L) + 1_000_000_000L;
        writeFully(root, msg, deadline, what);
        ByteBuffer head = ByteBuffer.allocate(8);
        readFully(root, head, deadline, what);
        int status = head.getInt(0);
        int length = head.getInt(4);
        if (status == REPLY_ABORT) {
            ByteBuffer text = ByteBuffer.allocate(length);
            readFully(root, text, deadline, what);
            throw new CollectiveException(new String(text.array(), StandardCharsets.UTF_8) + " (reported by "
                    + root.name() + " to rank " + rank + ")");
        }
        if (status != REPLY_OK || length != values.length) {
            throw new CollectiveException(root.name() + " answered " + what + " with something that is not its reply");
        }
        ByteBuffer body = ByteBuffer.allocate(8 * length);
        readFully(root, body, deadline, what);
        double[] sum = new double[length];
        body.flip().asDoubleBuffer().get(sum);
        return sum;
    }

    /** Rank 0 tells every rank it can reach why the operation failed (best effort: it is failing anyway). */
    private void abortControls(String message) {
        byte[] text = message.getBytes(StandardCharsets.UTF_8);
        ByteBuffer abort = ByteBuffer.allocate(8 + text.length).putInt(REPLY_ABORT).putInt(text.length).put(text)
                .flip();
        long deadline = System.nanoTime() + 1_000_000_000L;
        for (int r = 1; r < size; r++) {
            if (control[r] != null) {
                try {
                    writeFully(control[r], abort.duplicate(), deadline, "aborting");
                } catch (IOException | RuntimeException e) {
                    // that rank is gone or stuck: its own time-out names rank 0
                }
            }
        }
    }

    // ---- waiting, failing, closing --------------------------------------------------------------------------------

    private int read(Peer from, ByteBuffer into, String what) throws IOException {
        int n = from.channel().read(into);
        if (n < 0) {
            throw new CollectiveException(from.name() + " closed its connection to rank " + rank + " during "
                    + what + ": it failed or was stopped");
        }
        bytesReceived += n;
        return n;
    }

    /**
     * Waits until {@code writeTo} can take bytes or {@code readFrom} has some, or throws once nothing has moved for
     * the time-out, naming the peer waited for.
     */
    private void await(Selector sel, Peer writeTo, Peer readFrom, long lastProgress, int op) throws IOException {
        if (writeTo == null && readFrom == null) {
            throw new IllegalStateException("the ring waits on nothing during " + OP_NAMES[op]);
        }
        out.channel().keyFor(sel).interestOps(writeTo != null ? SelectionKey.OP_WRITE : 0);
        in.channel().keyFor(sel).interestOps(readFrom != null ? SelectionKey.OP_READ : 0);
        long left = lastProgress + timeoutNanos - System.nanoTime();
        if (left > 0) {
            checkInterrupt(OP_NAMES[op]);
            sel.select(Math.max(1, left / 1_000_000));
            sel.selectedKeys().clear();
            ensureOpen(op);
            left = lastProgress + timeoutNanos - System.nanoTime();
        }
        if (left <= 0) {
            throw readFrom != null ? silent(readFrom, true, OP_NAMES[op], "for " + settings.timeout())
                    : silent(writeTo, false, OP_NAMES[op], "for " + settings.timeout());
        }
    }

    private void writeFully(Peer to, ByteBuffer buf, long deadline, String what) throws IOException {
        moveFully(to, buf, true, deadline, what);
    }

    private void readFully(Peer from, ByteBuffer buf, long deadline, String what) throws IOException {
        moveFully(from, buf, false, deadline, what);
    }

    /** Writes all of {@code buf} to the peer, or fills it from the peer, by the deadline. */
    private void moveFully(Peer peer, ByteBuffer buf, boolean write, long deadline, String what) throws IOException {
        Selector sel = null; // opened only if the peer makes this wait
        try {
            while (buf.hasRemaining()) {
                if (write) {
                    bytesSent += peer.channel().write(buf);
                } else {
                    read(peer, buf, what);
                }
                if (buf.hasRemaining()) {
                    if (deadline - System.nanoTime() <= 0) {
                        throw silent(peer, !write, what, "before the time-out");
                    }
                    checkInterrupt(what);
                    if (sel == null) {
                        sel = Selector.open();
                        peer.channel().register(sel, write ? SelectionKey.OP_WRITE : SelectionKey.OP_READ);
                    }
                    sel.select(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
                    sel.selectedKeys().clear();
                }
            }
        } finally {
            if (sel != null) {
                sel.close(); // deregisters the channel
            }
        }
    }

    /** The failure of a peer that sent (or took) nothing for too long. */
    private CollectiveException silent(Peer peer, boolean reading, String what, String howLong) {
        return new CollectiveException(reading
                ? peer.name() + " sent rank " + rank + " nothing " + howLong + " during " + what
                + ": it has not called it, failed, is stuck, or the network is down"
                : peer.name() + " took nothing from rank " + rank + " " + howLong + " during " + what
                + ": it is stuck or the network is down");
    }

    private void ensureOpen(int op) {
        if (closed) {
            throw new CollectiveException("rank " + rank + "'s collective is closed (after a failure or close()): "
                    + OP_NAMES[op] + " cannot run");
        }
    }

    private void checkInterrupt(String what) {
        if (Thread.currentThread().isInterrupted()) {
            throw new CollectiveException("rank " + rank + " was interrupted during " + what);
        }
    }

    /**
     * Closes this rank after a failure, so that its neighbours fail at once instead of waiting, and returns the
     * exception to throw: e, or, when close() from another thread caused it, one saying so.
     */
    private RuntimeException fail(RuntimeException e, int op) {
        boolean closedElsewhere = closed;
        close();
        if (closedElsewhere && !(e instanceof CollectiveException && e.getCause() == null)) {
            return new CollectiveException("rank " + rank + "'s collective was closed during " + OP_NAMES[op], e);
        }
        return e instanceof CollectiveException ? e
                : new CollectiveException("rank " + rank + "'s collective failed during " + OP_NAMES[op] + ": " + e, e);
    }

    @Override
    public void close() {
        closed = true;
        for (Peer p : new Peer[] {out, in}) {
            if (p != null) {
                p.closeQuietly();
            }
        }
        for (Peer p : control) {
            if (p != null) {
                p.closeQuietly();
            }
        }
        for (Selector s : new Selector[] {ringSelector, controlSelector}) {
            if (s != null) {
                try {
                    s.wakeup();
                    s.close();
                } catch (IOException e) {
                    // released either way
                }
            }
        }
    }

    // ---- addresses -----------------------------------------------------------------------------------------------

    static String hostPort(String host, int port) {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }

    static InetSocketAddress socketAddress(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        if (colon <= 0 || colon == hostPort.length() - 1) {
            throw new IllegalArgumentException("a collective address is host:port, not '" + hostPort + "'");
        }
        String host = hostPort.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        try {
            return new InetSocketAddress(host, Integer.parseInt(hostPort.substring(colon + 1)));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("a collective address is host:port, not '" + hostPort + "'", e);
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CollectiveException("interrupted while connecting the collective");
        }
    }
}
