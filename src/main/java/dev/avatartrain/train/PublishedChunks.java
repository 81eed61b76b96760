package dev.avatartrain.train;

import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

import org.apache.spark.SparkEnv;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.storage.BlockData;
import org.apache.spark.storage.BlockManager;
import org.apache.spark.storage.BroadcastBlockId;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.io.ChunkedByteBuffer;

import scala.Option;
import scala.reflect.ClassTag$;

/**
 * A round's snapshot of chunks of the state (the parameters; when averaging, the moments too), served to the tasks
 * from the driver's block manager as disk-only blocks, so the driver's heap holds the state once and nothing more.
 * <p>
 * Why not {@code sc.broadcast}: a torrent broadcast keeps its value in the driver's block store <i>and</i> a
 * serialised copy of it in memory for as long as it lives (+ 33 % of the state for the parameters, + 100 % when the
 * moments travel too), and Spark gives no way to keep those pieces on disk only. Here each chunk is written once to
 * the driver's local disk (through one reused 32 MiB buffer; the pages sit in the OS cache, not the JVM) under a
 * {@link BroadcastBlockId} of a tiny handle broadcast, reported to the block manager master, and read by the
 * executors by id, as the torrent broadcast reads its own pieces. An executor that fetched a chunk keeps it on its
 * disk and reports it, so executors fetch from one another and the driver's link carries few copies (the torrent
 * effect). Destroying the handle removes every copy, on the driver and on all executors.
 * <p>
 * The blocks are a snapshot: the driver may update its arrays in place while the round's reduced chunks stream
 * back, and a task Spark recomputes (a lost executor) still reads the round's starting values.
 * <p>
 * {@code BlockManager}, {@code BlockData} and {@code ChunkedByteBuffer} are Spark-internal ({@code private[spark]}),
 * public in bytecode; this class is the only user, pinned by the Spark version in the pom.
 */
public final class PublishedChunks implements Serializable, AutoCloseable {
    private static final long serialVersionUID = 1L;
    private static final int READ_BLOCK = 1 << 20;

    private final long id;
    private final int[] lengths;
    private transient Broadcast<Integer> handle; // driver only: owns the blocks' lifetime

    private PublishedChunks(Broadcast<Integer> handle, int[] lengths) {
        this.handle = handle;
        this.id = handle.id();
        this.lengths = lengths;
    }

    /** Writes {@code chunks} as blocks 0 … n − 1 of a new snapshot (driver). */
    public static PublishedChunks publish(JavaSparkContext sc, List<float[]> chunks) {
        int[] lengths = new int[chunks.size()];
        int max = 0;
        for (int k = 0; k < lengths.length; k++) max = Math.max(max, lengths[k] = chunks.get(k).length);
        PublishedChunks p = new PublishedChunks(sc.broadcast(chunks.size()), lengths);
        BlockManager bm = SparkEnv.get().blockManager();
        ByteBuffer buf = ByteBuffer.allocate(4 * max).order(ByteOrder.LITTLE_ENDIAN);
        try {
            for (int k = 0; k < lengths.length; k++) {
                buf.clear();
                buf.asFloatBuffer().put(chunks.get(k));
                ByteBuffer bytes = buf.duplicate().limit(4 * lengths[k]).position(0);
                // disk only: written synchronously, the buffer is reused for the next chunk
                if (!bm.putBytes(p.block(k), new ChunkedByteBuffer(new ByteBuffer[]{bytes}), StorageLevel.DISK_ONLY(), true, ClassTag$.MODULE$.Any()))
                    throw new IllegalStateException("the driver's block manager did not store " + p.block(k) + " (spark.local.dir full?)");
            }
        } catch (RuntimeException e) {
            p.close();
            throw e;
        }
        return p;
    }

    public int size() {
        return lengths.length;
    }

    public int length(int k) {
        return lengths[k];
    }

    public BroadcastBlockId block(int k) {
        return new BroadcastBlockId(id, "chunk" + k);
    }

    /**
     * Reads chunk {@code k} into {@code into} (at least {@link #length} long): from this JVM's block manager when a copy
     * is here (the driver's, in local mode; or one fetched before), else from the driver or another executor, keeping
     * the fetched copy on this executor's disk for the others.
     */
    public void read(int k, float[] into) {
        BlockManager bm = SparkEnv.get().blockManager();
        BroadcastBlockId b = block(k);
        Option<BlockData> local = bm.getLocalBytes(b);
        if (local.isDefined()) {
            BlockData data = local.get();
            try (InputStream in = data.toInputStream()) {
                readFloats(in, into, lengths[k], b);
            } catch (IOException e) {
                throw new IllegalStateException("reading " + b + " from this JVM's block store failed", e);
            } finally {
                data.dispose();
                bm.releaseLock(b, Option.empty());
            }
            return;
        }
        Option<ChunkedByteBuffer> remote = bm.getRemoteBytes(b);
        if (remote.isEmpty())
            throw new IllegalStateException(b + " (chunk " + k + " of the round's state) is on no block manager: the driver lost it or the round ended");
        ChunkedByteBuffer bytes = remote.get();
        try {
            // another executor may fetch it from here now; a copy stored by a concurrent task of this executor wins
            bm.putBytes(b, bytes, StorageLevel.DISK_ONLY(), true, ClassTag$.MODULE$.Any());
            try (InputStream in = bytes.toInputStream(false)) {
                readFloats(in, into, lengths[k], b);
            }
        } catch (IOException e) {
            throw new IllegalStateException("reading " + b + " fetched from the cluster failed", e);
        } finally {
            bytes.dispose();
        }
    }

    private static void readFloats(InputStream in, float[] into, int n, BroadcastBlockId b) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(4 * Math.min(READ_BLOCK, Math.max(1, n))).order(ByteOrder.LITTLE_ENDIAN);
        for (int at = 0; at < n; ) {
            int m = Math.min(READ_BLOCK, n - at);
            int got = in.readNBytes(buf.array(), 0, 4 * m);
            if (got != 4 * m) throw new IllegalStateException(b + " is truncated: " + (4L * at + got) + " of " + 4L * n + " bytes");
            buf.clear();
            buf.asFloatBuffer().get(into, at, m);
            at += m;
        }
    }

    /** Removes the snapshot's blocks everywhere (driver). */
    @Override
    public void close() {
        if (handle != null) handle.destroy();
        handle = null;
    }
}
