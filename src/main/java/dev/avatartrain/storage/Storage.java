package dev.avatartrain.storage;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.avatartrain.config.DataConfig;
import org.apache.hadoop.conf.Configuration;
import dev.avatartrain.errors.BadInputException;
import org.apache.hadoop.fs.EtagSource;
import org.apache.hadoop.fs.FileContext;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Options;
import org.apache.hadoop.fs.RemoteIterator;
import org.apache.hadoop.fs.UnsupportedFileSystemException;
import org.apache.hadoop.fs.statistics.IOStatistics;
import org.apache.hadoop.fs.statistics.IOStatisticsSupport;

import java.io.Closeable;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.Serializable;
import java.net.URI;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Reads and writes the files named by paths relative to a local base and a remote base, local first.
 *
 * <p>Local paths and {@code file://} are read with java.nio; every other URL through Hadoop's FileSystem for its
 * scheme ({@code s3a}, {@code hdfs}, {@code viewfs}, {@code gs}, {@code abfs}, ...; {@link StorageUrl}). A scheme
 * without a connector on the classpath is an error naming the URL and the connector to add. A file under the local
 * base is read from disk; otherwise from the remote base, optionally copied into the local base first
 * (atomically, so a crash never leaves a half file that later reads as valid). A file that exists nowhere is a
 * {@link FileNotFoundException} naming every place tried.
 *
 * <p>Failures are retried by the connector alone (for s3a: {@code fs.s3a.retry.*}, with the AWS SDK's own retries
 * off), never by a second layer here; {@link #DEFAULTS} bounds the time-outs and retries the user did not set, so an
 * unreachable endpoint fails in well under a minute with a message naming the URL, the endpoint and those settings.
 *
 * <p>Serializable: it holds the locations and the Hadoop settings, never a FileSystem; each copy (e.g. on an
 * executor) opens its own FileSystem instances lazily. {@link #close()} releases them.
 */
public final class Storage implements Serializable, Closeable {
    private static final Logger LOG = LoggerFactory.getLogger(Storage.class);
    private static final long serialVersionUID = 2L;

    /**
     * Time-outs and retries applied where the user set none. Hadoop 3.3's own defaults (a 200 s socket time-out,
     * 20 SDK retries inside each of 7 S3A retries) keep a dead endpoint busy for many minutes without a word.
     */
    public static final Map<String, String> DEFAULTS = defaults();

    private static Map<String, String> defaults() {
        Map<String, String> d = new java.util.LinkedHashMap<>();
        d.put("fs.s3a.connection.establish.timeout", "5000"); // ms to open a connection
        d.put("fs.s3a.connection.timeout", "30000");          // ms without a byte on an open connection
        d.put("fs.s3a.attempts.maximum", "0");                // the AWS SDK's retries: off, S3A's policy is the one
        d.put("fs.s3a.retry.limit", "4");                     // S3A: 4 retries, 0.5 s, 1 s, 1.5 s, 2 s apart
        d.put("fs.s3a.retry.interval", "500ms");
        return java.util.Collections.unmodifiableMap(d);
    }

    /** Prefixes of the Hadoop settings a storage carries to executors (connectors, HDFS client, security). */
    private static final String[] CARRIED = {"fs.", "dfs.", "ipc.", "hadoop.security.", "hadoop.rpc.", "google.cloud."};

    /** Schemes whose files become visible only when a write completes (one object PUT): written in place. */
    private static final Set<String> WHOLE_OBJECT_WRITES = Set.of("s3a", "gs");

    private final StorageUrl local;
    private final StorageUrl remote;
    private final Map<String, String> hadoopSettings;
    private final boolean cacheRemoteReads;

    private transient Map<String, FileSystem> filesystems;
    private transient Configuration conf;

    private Storage(StorageUrl local, StorageUrl remote, Map<String, String> hadoopSettings, boolean cacheRemoteReads) {
        this.local = local;
        this.remote = remote;
        this.hadoopSettings = hadoopSettings;
        this.cacheRemoteReads = cacheRemoteReads;
    }

    /**
     * The data locations of {@code data.yaml}: {@code local_data_base_url} first, then {@code s3_data_base_url}.
     * Remote files are not cached locally unless {@link #withLocalCache(boolean)} says so.
     *
     * @param hadoop Spark's Hadoop configuration ({@code spark.hadoop.*}), or null for defaults
     */
    public static Storage fromConfig(DataConfig data, Configuration hadoop) {
        StorageUrl l = blank(data.localDataBaseUrl()) ? null : StorageUrl.parse(data.localDataBaseUrl(), "data.local_data_base_url");
        StorageUrl r = blank(data.s3DataBaseUrl()) ? null : StorageUrl.parse(data.s3DataBaseUrl(), "data.s3_data_base_url");
        if (l == null && r == null) throw new BadInputException(
                "data.yaml: both local_data_base_url and s3_data_base_url are empty; set at least one.");
        return create(l, r, hadoop);
    }

    /** One absolute location: a local path, {@code file://}, {@code https://...} or any Hadoop FileSystem URL. */
    public static Storage forUrl(String url, Configuration hadoop) {
        return create(null, StorageUrl.parse(url, "URL"), hadoop);
    }

    private static Storage create(StorageUrl l, StorageUrl r, Configuration hadoop) {
        Map<String, String> settings = new TreeMap<>();
        if (hadoop != null) {
            for (Map.Entry<String, String> e : hadoop) {
                String k = e.getKey();
                // what the site files, Spark or the user set; Hadoop's defaults are loaded again where it runs
                if (carried(k) && userSet(hadoop, k)) settings.put(k, hadoop.getRaw(k));
            }
        }
        for (StorageUrl u : new StorageUrl[]{l, r}) {
            if (u != null) u.bucketSettings().forEach(settings::putIfAbsent); // the user's per-bucket settings win
        }
        return new Storage(l, r, Map.copyOf(settings), false);
    }

    private static boolean carried(String key) {
        for (String p : CARRIED) if (key.startsWith(p)) return true;
        return false;
    }

    private static boolean blank(String s) {
        return s == null || s.isBlank();
    }

    /** Sets {@link #DEFAULTS} in {@code conf} where the user set no value (e.g. Spark's, before Spark reads Parquet). */
    public static void applyDefaults(Configuration conf) {
        DEFAULTS.forEach((k, v) -> {
            if (!userSet(conf, k)) conf.set(k, v, "avatar-train storage defaults");
        });
    }

    /** Whether a setting comes from anywhere but Hadoop's *-default.xml files. */
    private static boolean userSet(Configuration conf, String key) {
        String[] sources = conf.getPropertySources(key);
        if (sources == null) return false;
        for (String src : sources) if (!src.endsWith("-default.xml")) return true;
        return false;
    }

    /** A copy that copies remote files into the local base when it reads them (needs a local base on disk). */
    public Storage withLocalCache(boolean cache) {
        if (cache && (local == null || !local.isLocal()))
            throw new IllegalStateException("a local cache needs a local base directory");
        return new Storage(local, remote, hadoopSettings, cache);
    }

    /** The locations, local first. */
    public List<StorageUrl> locations() {
        List<StorageUrl> out = new ArrayList<>(2);
        if (local != null) out.add(local);
        if (remote != null) out.add(remote);
        return out;
    }

    /** The Hadoop configuration this storage uses: the site's, the captured settings, then {@link #DEFAULTS}. */
    public synchronized Configuration hadoopConf() {
        if (conf == null) {
            conf = new Configuration();
            hadoopSettings.forEach(conf::set);
            applyDefaults(conf);
        }
        return conf;
    }

    /**
     * This storage's own FileSystem instance for a URI's scheme and authority (not Hadoop's shared cache).
     *
     * @throws BadInputException when no connector for the scheme is on the classpath, naming the one to add
     */
    public synchronized FileSystem fileSystem(String uri) throws IOException {
        if (filesystems == null) filesystems = new HashMap<>();
        URI u = URI.create(uri);
        String key = u.getScheme() + "://" + u.getAuthority();
        FileSystem fs = filesystems.get(key);
        if (fs == null) {
            try {
                fs = FileSystem.newInstance(u, hadoopConf());
            } catch (UnsupportedFileSystemException e) {
                throw noConnector(uri, u.getScheme(), e);
            } catch (RuntimeException e) { // fs.<scheme>.impl names a class that is not on the classpath
                if (!(e.getCause() instanceof ClassNotFoundException)) throw e;
                throw noConnector(uri, u.getScheme(), e);
            }
            filesystems.put(key, fs);
        }
        return fs;
    }

    private static BadInputException noConnector(String uri, String scheme, Exception e) {
        return new BadInputException(uri + ": no Hadoop FileSystem for '" + scheme + "://' on the classpath ("
                + e.getMessage() + "). Add " + Connectors.forScheme(scheme)
                + " to the driver and executors (spark-submit --jars or --packages), or use a scheme the cluster has.", e);
    }

    // ---------------------------------------------------------------- reading

    /** Opens a file, local first. Remote streams retry as their connector does (s3a: {@code fs.s3a.retry.*}). */
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
        FileSystem fs = fileSystem(uri);
        InputStream in;
        try {
            in = call("open", uri, () -> fs.open(new org.apache.hadoop.fs.Path(uri)));
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
                if (call("check", uri, () -> fs.exists(new org.apache.hadoop.fs.Path(uri)))) return true;
            }
        }
        return false;
    }

    // ---------------------------------------------------------------- listing

    /**
     * An entry of a folder listing. {@code modifiedMillis} is -1 where the storage has none (object-store folders)
     * or attributes were not asked for, {@code size} -1 when not known; {@code etag} is the object store's entity tag
     * (content version) where it has one, else null.
     */
    public record Entry(String name, boolean directory, long modifiedMillis, long size, String etag) implements Serializable {
        /** What identifies this file's content for a cache: its ETag where the store has one, else size and time. */
        public String version() {
            return etag != null ? size + ":" + etag : size + ":" + modifiedMillis;
        }
    }

    /** Names in a folder (files and sub-folders), sorted; the union over all locations that have it. */
    public List<String> list(String relativeDir) throws IOException {
        return new ArrayList<>(listEntries(relativeDir, false).keySet());
    }

    /**
     * The entries of a folder over every location that has it, sorted by name (a local entry wins over a
     * remote one of the same name). With {@code attributes} false local entries carry no type, size or time
     * (one directory read, no stat per file); remote listings always have them.
     *
     * @throws FileNotFoundException naming every place tried, when no location has the folder
     */
    public TreeMap<String, Entry> listEntries(String relativeDir, boolean attributes) throws IOException {
        return listEntries(relativeDir, attributes, local -> false);
    }

    /**
     * As {@link #listEntries(String, boolean)}, local first: when the local base has the folder and its entries
     * satisfy {@code enoughLocally} (e.g. every file the metadata names is there), the remote is not asked at all.
     */
    public TreeMap<String, Entry> listEntries(String relativeDir, boolean attributes,
                                              java.util.function.Predicate<Map<String, Entry>> enoughLocally)
            throws IOException {
        TreeMap<String, Entry> out = new TreeMap<>();
        List<String> tried = new ArrayList<>();
        boolean found = false;
        for (StorageUrl u : locations()) {
            if (u.isLocal()) {
                found |= listLocal(u.localChild(relativeDir), attributes, out, tried);
                if (found && u == local && enoughLocally.test(java.util.Collections.unmodifiableMap(out))) return out;
            } else {
                found |= listRemote(u.child(relativeDir), out, tried);
            }
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
                        out.put(name, new Entry(name, a.isDirectory(), a.lastModifiedTime().toMillis(), a.size(), null));
                    } catch (IOException e) { // e.g. a dangling symbolic link: listed as a file, not fatal
                        out.put(name, new Entry(name, false, -1, -1, null));
                    }
                } else {
                    out.put(name, new Entry(name, false, -1, -1, null));
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
            entries = call("list", uri, () -> {
                List<Entry> list = new ArrayList<>();
                RemoteIterator<FileStatus> it = fs.listStatusIterator(dir);
                while (it.hasNext()) {
                    FileStatus s = it.next();
                    String etag = s instanceof EtagSource e ? e.getEtag() : null;
                    // an object store's "folder" is a key prefix: whatever time s3a reports for it is synthetic
                    list.add(s.isDirectory() ? new Entry(s.getPath().getName(), true, -1, -1, null)
                            : new Entry(s.getPath().getName(), false, s.getModificationTime(), s.getLen(), etag));
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
     * Writes a file at the first location so that readers see the old or the complete new content: on local disk,
     * HDFS and other file systems a temporary file renamed over the target; on S3 and GCS one upload, which becomes
     * visible only when complete.
     */
    public void write(String relativePath, AtomicFiles.IOConsumer<OutputStream> body) throws IOException {
        StorageUrl u = locations().get(0);
        if (u.isLocal()) {
            AtomicFiles.write(u.localChild(relativePath), body);
            return;
        }
        String uri = u.child(relativePath);
        FileSystem fs = fileSystem(uri);
        org.apache.hadoop.fs.Path target = new org.apache.hadoop.fs.Path(uri);
        if (WHOLE_OBJECT_WRITES.contains(u.scheme())) {
            try (OutputStream out = call("create", uri, () -> fs.create(target, true))) {
                body.accept(out);
            }
            return;
        }
        org.apache.hadoop.fs.Path tmp = new org.apache.hadoop.fs.Path(target.getParent(),
                "." + target.getName() + "." + java.util.UUID.randomUUID().toString().substring(0, 8) + ".tmp");
        try {
            try (OutputStream out = call("create", tmp.toString(), () -> fs.create(tmp, false))) {
                body.accept(out);
            }
            call("rename", tmp + " to " + uri, () -> {
                renameOver(fs, tmp, target);
                return null;
            });
        } finally {
            if (fs.exists(tmp)) fs.delete(tmp, false);
        }
    }

    /** Renames over an existing file: atomic where the file system's FileContext can (HDFS), else delete + rename. */
    private void renameOver(FileSystem fs, org.apache.hadoop.fs.Path tmp, org.apache.hadoop.fs.Path target) throws IOException {
        try {
            FileContext.getFileContext(target.toUri(), hadoopConf()).rename(tmp, target, Options.Rename.OVERWRITE);
            return;
        } catch (UnsupportedFileSystemException | UnsupportedOperationException e) {
            // no AbstractFileSystem for this scheme: fall through
        }
        if (fs.exists(target)) fs.delete(target, false);
        if (!fs.rename(tmp, target)) throw new IOException("could not rename " + tmp + " to " + target);
    }

    /** Renames a file or folder at the first location (parent folders created); used to move a run's outputs aside. */
    public void move(String fromRelative, String toRelative) throws IOException {
        StorageUrl u = locations().get(0);
        if (u.isLocal()) {
            Path to = u.localChild(toRelative);
            Files.createDirectories(to.toAbsolutePath().getParent());
            Files.move(u.localChild(fromRelative), to);
            return;
        }
        String from = u.child(fromRelative), to = u.child(toRelative);
        if (!fileSystem(from).rename(new org.apache.hadoop.fs.Path(from), new org.apache.hadoop.fs.Path(to))) {
            throw new IOException("cannot move " + from + " to " + to);
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
        FileSystem fs = fileSystem(uri);
        return call("delete", uri, () -> fs.delete(new org.apache.hadoop.fs.Path(uri), true));
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

    // ---------------------------------------------------------------- failures

    interface IOSupplier<T> {
        T get() throws IOException;
    }

    /**
     * Runs one remote operation (the connector retries it as configured) and, when it fails for any reason but a
     * missing file, says which URL, which endpoint and which settings bound the wait.
     */
    private <T> T call(String what, String uri, IOSupplier<T> op) throws IOException {
        String endpoint = endpointKey(uri);
        Unreachable down = unreachable == null ? null : unreachable.get(endpoint);
        if (down != null && down.until() > System.currentTimeMillis()) throw new IOException(down.message());
        try {
            return op.get();
        } catch (FileNotFoundException e) {
            throw e;
        } catch (IOException e) {
            String where = where(uri);
            if (cannotConnect(e)) {
                // the next requests to this endpoint fail at once with the same words, so that a job's report can
                // name the endpoint once for all the files that needed it, and does not wait again for each
                String message = "cannot reach " + (where.isEmpty() ? endpoint : where.strip()) + ": " + rootMessage(e)
                        + " (first needed to " + what + " " + uri + ")";
                synchronized (this) {
                    if (unreachable == null) unreachable = new java.util.concurrent.ConcurrentHashMap<>();
                    unreachable.put(endpoint, new Unreachable(message, System.currentTimeMillis() + UNREACHABLE_MS));
                }
                throw new IOException(message, e);
            }
            throw new IOException(what + " " + uri + " failed: " + e.getMessage() + where, e);
        }
    }

    /** How long an endpoint that refused a connection is not asked again by this instance. */
    private static final long UNREACHABLE_MS = 60_000;

    private record Unreachable(String message, long until) {}

    private transient Map<String, Unreachable> unreachable;

    private static String endpointKey(String uri) {
        URI u = URI.create(uri.contains(" to ") ? uri.substring(uri.lastIndexOf(" to ") + 4) : uri);
        return u.getScheme() + "://" + u.getAuthority();
    }

    /** A failure to connect at all (refused, unknown host, no route, connect time-out), not one of a request. */
    static boolean cannotConnect(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.net.ConnectException || t instanceof java.net.UnknownHostException
                    || t instanceof java.net.NoRouteToHostException) return true;
            String n = t.getClass().getSimpleName();
            if (n.equals("ConnectTimeoutException") || n.equals("HttpHostConnectException")) return true;
        }
        return false;
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) t = t.getCause();
        return t.getClass().getSimpleName() + ": " + t.getMessage();
    }

    /** The endpoint behind a URL and the settings that decide how long a failing request is tried. */
    private String where(String uri) {
        URI u = URI.create(uri.contains(" to ") ? uri.substring(uri.lastIndexOf(" to ") + 4) : uri);
        Configuration c = hadoopConf();
        String scheme = u.getScheme();
        if ("s3a".equals(scheme)) {
            String bucketKey = "fs.s3a.bucket." + u.getHost() + ".endpoint";
            String endpoint = c.get(bucketKey, c.get("fs.s3a.endpoint"));
            String setting = c.get(bucketKey) != null ? bucketKey : "fs.s3a.endpoint";
            StringBuilder b = new StringBuilder(" [endpoint ").append(endpoint == null || endpoint.isBlank()
                    ? "AWS S3 (default)" : endpoint).append(" from ").append(setting).append("; waits bounded by");
            for (String k : DEFAULTS.keySet()) b.append(' ').append(k).append('=').append(s3aValue(c, u.getHost(), k));
            return b.append(" (set them with --conf spark.hadoop.<name>=...)]").toString();
        }
        if ("hdfs".equals(scheme) || "viewfs".equals(scheme)) {
            String nn = u.getAuthority() != null ? u.getAuthority() : c.get("fs.defaultFS");
            return " [namenode " + nn + "; waits bounded by ipc.client.connect.timeout=" + c.get("ipc.client.connect.timeout")
                    + ", ipc.client.connect.max.retries=" + c.get("ipc.client.connect.max.retries")
                    + ", ipc.client.connect.max.retries.on.timeouts=" + c.get("ipc.client.connect.max.retries.on.timeouts") + "]";
        }
        return "";
    }

    private static String s3aValue(Configuration c, String bucket, String key) {
        String perBucket = c.get("fs.s3a.bucket." + bucket + "." + key.substring("fs.s3a.".length()));
        return perBucket != null ? perBucket : c.get(key);
    }

    @Override
    public String toString() {
        List<String> l = new ArrayList<>();
        for (StorageUrl u : locations()) l.add(u.original());
        return "Storage" + l;
    }
}
