package dev.avatartrain.metadata;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.storage.StorageUrl;
import org.apache.hadoop.conf.Configuration;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * A Parquet metadata directory that is replaced without readers ever seeing it missing or half written, on object
 * stores too (where a directory cannot be renamed atomically): every write goes to a new folder
 * {@code <url>/v-<millis>/}, then the small pointer file {@code <url>/_current} (one object, visible only when
 * complete) is written naming it. Readers read the pointer, then that folder. The version before the new one is
 * kept for readers that read the pointer just before it changed; older ones are deleted.
 *
 * <p>A directory without {@code _current} (the layout before pointers: part files directly in {@code <url>}) is read
 * as it is; the first versioned write keeps its files as the previous version and the next write removes them.
 */
public final class ParquetVersions {
    /** The pointer file's name; Spark and other Parquet readers skip names starting with '_'. */
    public static final String POINTER = "_current";
    private static final String PREFIX = "v-";

    private ParquetVersions() {}

    /** The folder to read: the version {@code _current} names, or {@code url} itself (old layout). */
    public static String resolve(String url, Configuration hadoop) throws IOException {
        StorageUrl u = StorageUrl.parse(url, "metadata");
        try (Storage s = Storage.forUrl(url, hadoop)) {
            String version = pointer(s, url);
            return version == null ? u.hadoopUri() : u.child(version);
        }
    }

    /**
     * Reads the current version with {@code read}; when that fails because a writer replaced the version and deleted
     * the one read (a reader slower than two writes), reads the pointer again, at most three times.
     */
    public static <T> T read(String url, Configuration hadoop, Function<String, T> read) throws IOException {
        String folder = resolve(url, hadoop);
        for (int attempt = 1; ; attempt++) {
            try {
                return read.apply(folder);
            } catch (RuntimeException e) {
                String now = resolve(url, hadoop);
                if (now.equals(folder) || attempt >= 3) throw e;
                folder = now;
            }
        }
    }

    /**
     * Writes a new version with {@code writeTo} (given the folder's URL, which does not exist yet), then the pointer,
     * then removes versions older than the previous one.
     */
    public static void write(String url, Configuration hadoop, WriteTo writeTo) throws IOException {
        StorageUrl u = StorageUrl.parse(url, "--output");
        try (Storage s = Storage.forUrl(url, hadoop)) {
            String previous = s.exists("") ? pointer(s, url) : null;
            boolean oldLayout = previous == null && s.exists("") && !hasVersions(s);
            String version = PREFIX + System.currentTimeMillis();
            while (s.exists(version)) version = PREFIX + (Long.parseLong(version.substring(PREFIX.length())) + 1);
            writeTo.write(u.child(version));
            byte[] name = (version + "\n").getBytes(StandardCharsets.UTF_8);
            s.write(POINTER, out -> out.write(name));
            List<String> remove = new ArrayList<>();
            for (String n : s.list("")) {
                boolean keep = n.equals(POINTER) || n.equals(version) || n.equals(previous)
                        || (oldLayout && !n.startsWith(PREFIX)); // the old layout's files are the previous version
                if (!keep) remove.add(n);
            }
            for (String n : remove) s.delete(n);
        }
    }

    /** Writes Parquet into a folder. */
    @FunctionalInterface
    public interface WriteTo {
        void write(String folderUrl) throws IOException;
    }

    /**
     * The version {@code _current} names, or null for the old layout. A writer replacing the pointer while it is read
     * shows up as S3A's change detection (the object changed between its HEAD and its GET) or as a pointer that
     * vanished between the check and the open; both are read again, waiting a little longer each time, up to
     * {@link #POINTER_READS} reads in all, and then the version the pointer names then is read.
     */
    private static String pointer(Storage s, String url) throws IOException {
        for (int read = 1; ; read++) {
            try {
                String v = pointerOnce(s, url);
                if (v != null || read >= POINTER_READS || !hasVersions(s)) return v;
                // no pointer beside version folders: it is being replaced; read it again
            } catch (IOException e) {
                if (read >= POINTER_READS || !changedOrVanished(e)) throw e;
            }
            try {
                Thread.sleep(RETRY_WAIT_MS << Math.min(read - 1, 4));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while reading " + url + "/" + POINTER);
            }
        }
    }

    /** Reads of the pointer in all when a writer replaces it meanwhile (waits of 50 ms to 0.8 s between, 2.3 s). */
    static final int POINTER_READS = 6;
    private static final long RETRY_WAIT_MS = 50;

    private static String pointerOnce(Storage s, String url) throws IOException {
        if (!s.exists(POINTER)) return null;
        String v = new String(s.readAll(POINTER), StandardCharsets.UTF_8).strip();
        if (!v.matches(PREFIX + "\\d+"))
            throw new BadInputException(url + "/" + POINTER + ": names '" + v + "', not a version folder (v-<digits>).");
        return v;
    }

    private static boolean hasVersions(Storage s) throws IOException {
        try {
            for (String n : s.list("")) if (n.startsWith(PREFIX)) return true;
        } catch (java.io.FileNotFoundException noFolder) {
            // nothing written here yet
        }
        return false;
    }

    /**
     * Whether a read failed because the file changed or disappeared under it: a missing file, or S3A's
     * {@code RemoteFileChangedException} (matched by name: hadoop-aws is on the classpath only where s3a is used).
     */
    static boolean changedOrVanished(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.io.FileNotFoundException) return true;
            if (t.getClass().getName().equals("org.apache.hadoop.fs.s3a.RemoteFileChangedException")) return true;
        }
        return false;
    }
}
