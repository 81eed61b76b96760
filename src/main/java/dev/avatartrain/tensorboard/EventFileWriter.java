package dev.avatartrain.tensorboard;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import dev.avatartrain.storage.Storage;
import dev.avatartrain.storage.StorageUrl;

/**
 * Writes TensorBoard events under {@code output_dir/tensorboard/}. On a local disk one file
 * ({@code events.out.tfevents.<seconds>.<host>.<pid>}) is appended to and flushed after every event, so a running
 * TensorBoard sees each one. Elsewhere (s3a, HDFS, any Hadoop file system) events are buffered and uploaded as
 * closed segments ({@code ….<pid>.0001}, {@code ….0002}, …) at every {@link #flush()} and after
 * {@value #SEGMENT_SECONDS} s: a segment is written once and never rewritten; TensorBoard reads the files of a
 * directory in name order.
 */
public final class EventFileWriter implements Closeable {
    public static final String DIR = "tensorboard";
    static final long SEGMENT_SECONDS = 300;

    private final Storage out;
    private final String baseName;
    private final OutputStream localFile;
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
    private int segments;
    private long segmentStarted = System.nanoTime();
    private boolean pendingEvents;

    private EventFileWriter(Storage out, String baseName, OutputStream localFile) {
        this.out = out;
        this.baseName = baseName;
        this.localFile = localFile;
    }

    /** A new event file (or series of segments) of this process under {@code outputDir}'s {@value #DIR}/. */
    public static EventFileWriter open(Storage outputDir) throws IOException {
        double now = System.currentTimeMillis() / 1000.0;
        String base = String.format("events.out.tfevents.%010d.%s.%d", (long) now, host(), ProcessHandle.current().pid());
        StorageUrl u = outputDir.locations().get(0);
        OutputStream local = null;
        if (u.isLocal()) {
            Path dir = u.localChild(DIR);
            Files.createDirectories(dir);
            local = Files.newOutputStream(dir.resolve(base), StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        }
        EventFileWriter w = new EventFileWriter(outputDir, base, local);
        w.writeRecord(Events.fileVersion(now));
        return w;
    }

    /** Where the events go: the directory to give {@code tensorboard --logdir}. */
    public String directory() {
        StorageUrl u = out.locations().get(0);
        return u.isLocal() ? u.localChild(DIR).toString() : u.child(DIR);
    }

    /** Appends one encoded {@code Event} (see {@link Events}). */
    public synchronized void write(byte[] event) throws IOException {
        writeRecord(event);
        pendingEvents = true;
        if (localFile == null && (System.nanoTime() - segmentStarted) / 1e9 > SEGMENT_SECONDS) flush();
    }

    private void writeRecord(byte[] event) throws IOException {
        byte[] record = TfRecord.frame(event);
        if (localFile != null) {
            localFile.write(record);
            localFile.flush();
        } else {
            pending.write(record);
        }
    }

    /** Makes everything written so far visible: on an object store, uploads it as a new closed segment. */
    public synchronized void flush() throws IOException {
        if (localFile != null || !pendingEvents) return;
        byte[] segment = pending.toByteArray();
        String name = String.format("%s/%s.%04d", DIR, baseName, ++segments);
        out.write(name, o -> o.write(segment));
        pending.reset();
        pendingEvents = false;
        segmentStarted = System.nanoTime();
        writeRecord(Events.fileVersion(System.currentTimeMillis() / 1000.0)); // every segment is a complete event file
    }

    @Override
    public synchronized void close() throws IOException {
        if (localFile != null) localFile.close();
        else flush();
    }

    private static String host() {
        String h;
        try {
            h = java.net.InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            h = "localhost";
        }
        return h.replaceAll("[^A-Za-z0-9._-]", "_");
    }
}
