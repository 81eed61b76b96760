package dev.avatartrain.storage;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.avatartrain.config.DataConfig;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.RemoteIterator;
import org.apache.hadoop.fs.statistics.IOStatistics;
import org.apache.hadoop.fs.statistics.IOStatisticsSupport;

import java.io.Closeable;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.io.Serializable;
import java.net.URI;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Reads the training data named by paths relative to a local base and a remote base, local first.
 *
 * <p>A file under the local base is read from disk; otherwise from the remote base (s3a, HTTPS bucket, or
 * another local folder), optionally copied into the local base first (atomically, so a crash never leaves
 * a half file that later reads as valid). Transient remote errors — on open and in the middle of a read —
 * are retried with exponential backoff; a file that exists nowhere is a {@link FileNotFoundException}
 * naming every place tried.
 *
 * <p>Serializable: it holds the locations and the {@code fs.s3a.*} settings, never a FileSystem; each copy
 * (e.g. on an executor) opens its own FileSystem instances lazily. {@link #close()} releases them.
 */
public final class Storage implements Serializable, Closeable {
    private static final Logger LOG = LoggerFactory.getLogger(Storage.class);
    private static final long serialVersionUID = 1L;

    private final StorageUrl local;
    private final StorageUrl remote;
    private final Map<String, String> hadoopSettings;
    private final boolean cacheRemoteReads;
    private final int attempts;
    private final long backoffMillis;

    private transient Map<String, FileSystem> filesystems;
    private transient Configuration conf;

    private Storage(StorageUrl local, StorageUrl remote, Map<String, String> hadoopSettings, boolean cacheRemoteReads,
                    int attempts, long backoffMillis) {
        this.local = local;
        this.remote = remote;
        this.hadoopSettings = hadoopSettings;
        this.cacheRemoteReads = cacheRemoteReads;
        this.attempts = attempts;
        this.backoffMillis = backoffMillis;
    }

    /**
     * The data locations of {@code data.yaml}: {@code local_data_base_url} first, then {@code s3_data_base_url}.
     * Remote files are not cached locally unless {@link #withLocalCache(boolean)} says so.
     *
     * @param hadoop Spark's Hadoop configuration ({@code spark.hadoop.fs.s3a.*}), or null for defaults
     */
    public static Storage fromConfig(DataConfig data, Configuration hadoop) {
        StorageUrl l = blank(data.localDataBaseUrl()) ? null : StorageUrl.parse(data.localDataBaseUrl(), "data.local_data_base_url");
        StorageUrl r = blank(data.s3DataBaseUrl()) ? null : StorageUrl.parse(data.s3DataBaseUrl(), "data.s3_data_base_url");
        if (l == null && r == null) throw new dev.avatartrain.errors.BadInputException(
                "data.yaml: both local_data_base_url and s3_data_base_url are empty; set at least one.");
        return create(l, r, hadoop, false);
    }

    /** One absolute location: a local path, {@code file://}, {@code s3a://} or {@code https://...}. */
    public static Storage forUrl(String url, Configuration hadoop) {
        return create(null, StorageUrl.parse(url, "URL"), hadoop, false);
    }

    private static Storage create(StorageUrl l, StorageUrl r, Configuration hadoop, boolean cache) {
        Map<String, String> settings = new TreeMap<>();
        if (hadoop != null) {
            for (Map.Entry<String, String> e : hadoop) {
                String k = e.getKey();
                if (k.startsWith("fs.s3a.") || k.startsWith("fs.s3.") || k.startsWith("fs.AbstractFileSystem.s3a.")
                        || k.equals("hadoop.security.credential.provider.path")) {
                    settings.put(k, hadoop.get(k));
                }
            }
        }
        for (StorageUrl u : new StorageUrl[]{l, r}) {
            if (u != null) u.bucketSettings().forEach(settings::putIfAbsent); // the user's per-bucket settings win
        }
        return new Storage(l, r, Map.copyOf(settings), cache, 5, 200);
    }

    private static boolean blank(String s) {
        return s == null || s.isBlank();
    }

    /** A copy that copies remote files into the local base when it reads them (needs a local base on disk). */
    public Storage withLocalCache(boolean cache) {
        if (cache && (local == null || !local.isLocal()))
            throw new IllegalStateException("a local cache needs a local base directory");
        return new Storage(local, remote, hadoopSettings, cache, attempts, backoffMillis);
    }

    /** A copy with {@code attempts} tries per remote operation, waiting {@code backoffMillis}, doubling, between them. */
    public Storage withRetries(int attempts, long backoffMillis) {
        if (attempts < 1 || backoffMillis < 0) throw new IllegalArgumentException("attempts >= 1, backoff >= 0");
        return new Storage(local, remote, hadoopSettings, cacheRemoteReads, attempts, backoffMillis);
    }

    /** The locations, local first. */
    public List<StorageUrl> locations() {
        List<StorageUrl> out = new ArrayList<>(2);
        if (local != null) out.add(local);
        if (remote != null) out.add(remote);
        return out;
    }

    /** The Hadoop configuration this storage uses (defaults plus the captured {@code fs.s3a.*} settings). */
    public synchronized Configuration hadoopConf() {
        if (conf == null) {
            conf = new Configuration();
            hadoopSettings.forEach(conf::set);
        }
        return conf;
    }

    /** This storage's own FileSystem instance for a URI's scheme and bucket (not Hadoop's shared cache). */
    public synchronized FileSystem fileSystem(String uri) throws IOException {
        if (filesystems == null) filesystems = new HashMap<>();
        URI u = URI.create(uri);
        String key = u.getScheme() + "://" + u.getAuthority();
        FileSystem fs = filesystems.get(key);
        if (fs == null) {
            fs = FileSystem.newInstance(u, hadoopConf());
            filesystems.put(key, fs);
        }
        return fs;
    }

    // ---------------------------------------------------------------- reading

    /** Opens a file, local first. The stream retries transient remote failures, resuming where it was. */
    public InputStream open(String relativePath) throws IOException {
        List<String> tried = new ArrayList<>();
        if (local != null) {
            InputStream in = openIn(local, relativePath, tried, false);
            if (in != null) return in;
        }
        if (remote != null) {
            InputStream in = openIn(remote, relativePath, tried, cacheRemoteReads && local != null && local.isLocal());
            if (in != null) return in;
        }
        throw new FileNotFoundException(relativePath + ": not found; tried " + String.join(", ", tried) + ".");
    }

    private InputStream openIn(StorageUrl where, String rel, List<String> tried, boolean cache) throws IOException {
        if (where.isLocal()) {
            Path p = where.localChild(rel);
            tried.add(p.toString());
            try {
                return Files.newInputStream(p);
            } catch (NoSuchFileException e) {
                return null;
            }
        }
        String uri = where.child(rel);
        tried.add(uri);
        RetryingInputStream in;
        try {
            in = new RetryingInputStream(fileSystem(uri), new org.apache.hadoop.fs.Path(uri));
        } catch (FileNotFoundException e) {
            return null;
        }
        if (!cache) return in;
        Path target = local.localChild(rel);
        try (in) {
            AtomicFiles.write(target, out -> in.transferTo(out));
        }
        return Files.newInputStream(target);
    }

    /** The whole file, local first. */
    public byte[] readAll(String relativePath) throws IOException {
        try (InputStream in = open(relativePath)) {
            return in.readAllBytes();
        }
    }

    /** Whether the file or folder exists in any location. */
    public boolean exists(String relativePath) throws IOException {
        for (StorageUrl u : locations()) {
            if (u.isLocal()) {
                if (Files.exists(u.localChild(relativePath))) return true;
            } else {
                String uri = u.child(relativePath);
                FileSystem fs = fileSystem(uri);
                if (retry("check " + uri, () -> fs.exists(new org.apache.hadoop.fs.Path(uri)))) return true;
            }
        }
        return false;
    }

    // ---------------------------------------------------------------- listing

    /** An entry of a folder listing. {@code modifiedMillis} is -1 where the storage has none (S3 folders). */
    public record Entry(String name, boolean directory, long modifiedMillis) implements Serializable {}

    /** Names in a folder (files and sub-folders), sorted; the union over all locations that have it. */
    public List<String> list(String relativeDir) throws IOException {
        return new ArrayList<>(listEntries(relativeDir, false).keySet());
    }

    /**
     * The entries of a folder over every location that has it, sorted by name (a local entry wins over a
     * remote one of the same name). With {@code attributes} false local entries carry no type or time
     * (one directory read, no stat per file: listing is the scan's hot path); remote listings always have them.
     *
     * @throws FileNotFoundException naming every place tried, when no location has the folder
     */
    public TreeMap<String, Entry> listEntries(String relativeDir, boolean attributes) throws IOException {
        TreeMap<String, Entry> out = new TreeMap<>();
        List<String> tried = new ArrayList<>();
        boolean found = false;
        for (StorageUrl u : locations()) {
            if (u.isLocal()) found |= listLocal(u.localChild(relativeDir), attributes, out, tried);
            else found |= listRemote(u.child(relativeDir), out, tried);
        }
        if (!found) throw new FileNotFoundException(
                (relativeDir.isEmpty() ? "." : relativeDir) + ": no such folder; tried " + String.join(", ", tried) + ".");
        return out;
    }

    private static boolean listLocal(Path dir, boolean attributes, Map<String, Entry> out, List<String> tried) throws IOException {
        tried.add(dir.toString());
        if (!Files.isDirectory(dir)) return false;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                if (out.containsKey(name)) continue;
                if (attributes) {
                    try {
                        BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
                        out.put(name, new Entry(name, a.isDirectory(), a.lastModifiedTime().toMillis()));
                    } catch (IOException e) { // e.g. a dangling symbolic link: listed as a file, not fatal
                        out.put(name, new Entry(name, false, -1));
                    }
                } else {
                    out.put(name, new Entry(name, false, -1));
                }
            }
        }
        return true;
    }

    private boolean listRemote(String uri, Map<String, Entry> out, List<String> tried) throws IOException {
        tried.add(uri);
        FileSystem fs = fileSystem(uri);
        org.apache.hadoop.fs.Path dir = new org.apache.hadoop.fs.Path(uri);
        List<Entry> entries;
        try {
            entries = retry("list " + uri, () -> {
                List<Entry> list = new ArrayList<>();
                RemoteIterator<FileStatus> it = fs.listStatusIterator(dir);
                while (it.hasNext()) {
                    FileStatus s = it.next();
                    // an object store's "folder" is a key prefix: whatever time s3a reports for it is synthetic
                    list.add(new Entry(s.getPath().getName(), s.isDirectory(), s.isDirectory() ? -1 : s.getModificationTime()));
                }
                return list;
            });
        } catch (FileNotFoundException e) {
            return false;
        }
        for (Entry e : entries) out.putIfAbsent(e.name(), e);
        return true;
    }

    // ---------------------------------------------------------------- writing

    /**
     * Writes a file at the first location so that readers see the old or the complete new content: locally a
     * temporary file renamed into place; on S3 one upload, which becomes visible only when complete.
     */
    public void write(String relativePath, AtomicFiles.IOConsumer<OutputStream> body) throws IOException {
        StorageUrl u = locations().get(0);
        if (u.isLocal()) {
            AtomicFiles.write(u.localChild(relativePath), body);
            return;
        }
        String uri = u.child(relativePath);
        try (OutputStream out = fileSystem(uri).create(new org.apache.hadoop.fs.Path(uri), true)) {
            body.accept(out);
        }
    }

    /** Deletes a file or folder (recursively) at the first location; false when it did not exist. */
    public boolean delete(String relativePath) throws IOException {
        StorageUrl u = locations().get(0);
        if (u.isLocal()) {
            Path p = u.localChild(relativePath);
            if (!Files.exists(p)) return false;
            try (java.util.stream.Stream<Path> walk = Files.walk(p)) {
                for (Path q : walk.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(q);
            }
            return true;
        }
        String uri = u.child(relativePath);
        return fileSystem(uri).delete(new org.apache.hadoop.fs.Path(uri), true);
    }

    // ---------------------------------------------------------------- statistics

    /** Requests made so far by this instance's remote FileSystems, by kind (e.g. {@code object_list_request}). */
    public synchronized Map<String, Long> requestCounts() {
        Map<String, Long> out = new TreeMap<>();
        if (filesystems == null) return out;
        for (FileSystem fs : filesystems.values()) {
            // per instance (getStorageStatistics() is one JVM-wide counter per scheme)
            IOStatistics stats = IOStatisticsSupport.retrieveIOStatistics(fs);
            if (stats == null) continue;
            stats.counters().forEach((name, value) -> {
                if (name.startsWith("object_") && name.endsWith("_request") && value > 0) out.merge(name, value, Long::sum);
            });
        }
        return out;
    }

    @Override
    public synchronized void close() throws IOException {
        if (filesystems == null) return;
        IOException first = null;
        for (FileSystem fs : filesystems.values()) {
            try {
                fs.close();
            } catch (IOException e) {
                if (first == null) first = e;
            }
        }
        filesystems = null;
        if (first != null) throw first;
    }

    // ---------------------------------------------------------------- retries

    interface IOSupplier<T> {
        T get() throws IOException;
    }

    /** Whether a failure may go away by itself (not: missing, access denied, interrupted). */
    static boolean transientFailure(IOException e) {
        return !(e instanceof FileNotFoundException || e instanceof NoSuchFileException
                || e instanceof AccessDeniedException || e instanceof InterruptedIOException
                || e.getClass().getName().endsWith("AWSBadRequestException")
                || e.getClass().getName().endsWith("NoVersionAttributeException")
                || e.getClass().getName().endsWith("AWSClientIOException") && e.getCause() instanceof IllegalArgumentException);
    }

    <T> T retry(String what, IOSupplier<T> op) throws IOException {
        long wait = backoffMillis;
        for (int attempt = 1; ; attempt++) {
            try {
                return op.get();
            } catch (IOException e) {
                if (!transientFailure(e) || attempt >= attempts) {
                    if (attempt > 1 && transientFailure(e))
                        throw new IOException(what + ": failed " + attempt + " times, last: " + e.getMessage(), e);
                    throw e;
                }
                LOG.warn(String.format("storage: %s failed (%s); retry %d of %d in %d ms",
                        what, e.getClass().getSimpleName(), attempt, attempts - 1, wait));
                sleep(wait);
                wait = Math.min(wait * 2, 30_000);
            }
        }
    }

    private static void sleep(long ms) throws InterruptedIOException {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting to retry");
        }
    }

    /** A remote stream that, when a read fails transiently, reopens the file and continues at the same position. */
    private final class RetryingInputStream extends InputStream {
        private final FileSystem fs;
        private final org.apache.hadoop.fs.Path path;
        private FSDataInputStream in;
        private long pos;

        RetryingInputStream(FileSystem fs, org.apache.hadoop.fs.Path path) throws IOException {
            this.fs = fs;
            this.path = path;
            this.in = retry("open " + path, () -> fs.open(path));
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = retry("read " + path + " at byte " + pos, () -> {
                if (in == null) {
                    FSDataInputStream s = fs.open(path);
                    if (pos > 0) s.seek(pos);
                    in = s;
                }
                try {
                    return in.read(b, off, len);
                } catch (IOException e) {
                    closeQuietly();
                    throw e;
                }
            });
            if (n > 0) pos += n;
            return n;
        }

        private void closeQuietly() {
            try {
                if (in != null) in.close();
            } catch (IOException ignored) {
                // the stream is already broken
            }
            in = null;
        }

        @Override
        public void close() throws IOException {
            if (in != null) in.close();
            in = null;
        }
    }

    @Override
    public String toString() {
        List<String> l = new ArrayList<>();
        for (StorageUrl u : locations()) l.add(u.original());
        return "Storage" + l;
    }
}
