package dev.avatartrain.collective;

import java.nio.FloatBuffer;

/**
 * Collectives over flat float32 buffers among {@link #size()} ranks. One thread at a time calls them, every rank the
 * same operations in the same order, with buffers of the same {@code remaining()} length.
 *
 * <p>Float buffers are direct and in native byte order (an ND4J array's memory, or
 * {@code ByteBuffer.allocateDirect(n).order(ByteOrder.nativeOrder()).asFloatBuffer()}); the operations act on
 * {@code position()..limit()} and leave position and limit unchanged. A Java buffer holds at most 2^31 − 1 floats,
 * so a larger state is passed as several views (slices of up to 2 GiB, e.g. gradient buckets), one call each.
 *
 * <p>Sums are in a fixed order that depends only on the size of the job and the buffer's length, so a run
 * repeated with the same inputs gives the same bits, and every rank holds the same bits after an all-reduce.
 *
 * <p>Any failure (a peer that does not answer within the time-out, a closed connection) is a
 * {@link CollectiveException} naming the peer; the collective is unusable after one.
 */
public interface Collective extends AutoCloseable {

    /** This process's rank, 0 ≤ rank &lt; size. */
    int rank();

    /** The number of ranks. */
    int size();

    /**
     * Sums {@code data} (position..limit, a direct native-order buffer, e.g. an ND4J array's memory) over all ranks,
     * in place, on every rank.
     */
    void allReduce(FloatBuffer data);

    /**
     * After it, this rank's shard ({@code Shards.of(data.remaining(), size(), rank())}, relative to the position) of
     * {@code data} holds the sum over ranks; the rest of {@code data} is scratch (undefined).
     */
    void reduceScatter(FloatBuffer data);

    /**
     * Each rank's own shard ({@code Shards.of(data.remaining(), size(), rank())}) of {@code data} is sent to all;
     * after it {@code data} holds every rank's shard on every rank.
     */
    void allGather(FloatBuffer data);

    /**
     * Sums small double vectors (losses, sums of squares, counts) over ranks in place; every rank gets the same bits.
     */
    void allReduce(double[] values);

    /**
     * Returns when every rank has called it, or throws CollectiveException after the time-out naming the ranks missing.
     */
    void barrier();

    /** Bytes this rank has sent so far (for metrics: bytes per worker, seconds per GB). */
    long bytesSent();

    /** Bytes this rank has received so far. */
    long bytesReceived();

    /** Releases the connections and threads; idempotent. A peer's pending operation then fails. */
    @Override
    void close();
}
