package dev.avatartrain.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.storage.StorageUrl;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileAlreadyExistsException;
import org.apache.hadoop.fs.FileSystem;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A training run's hold on its output folder, from before it writes anything to its end: the file
 * {@value #FILE} names the holder (command, host, process id, start) and its heartbeat, rewritten every
 * {@link #HEARTBEAT}. A second run into the same folder is refused with a sentence naming the holder.
 *
 * <ul>
 *   <li>Local disk: the operating system's lock on the file ({@link FileChannel#tryLock()}), which dies with the
 *   process, so a killed run's lock is taken over at once and safely (the file itself is never deleted: deleting
 *   it could let two runs lock two different files).</li>
 *   <li>HDFS and other file systems: the file is created only if absent (one atomic namenode call); a lock whose
 *   heartbeat is older than {@link #STALE} belongs to a dead run and is taken over: deleted only while it still
 *   holds what was read, then created again, so of two runs taking it over only one succeeds.</li>
 *   <li>Object stores (s3a, gs): a create-if-absent is not atomic there, so the lock is the same file but only
 *   advisory: it refuses a second run started while the first runs, but not two started in the same instant. One
 *   writer per output folder is the rule there (README, "What happens when…").</li>
 * </ul>
 */
public final class RunLock implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(RunLock.class);
    /** The lock file in the output folder. */
    public static final String FILE = ".avatar-train.lock";
    static final Duration HEARTBEAT = Duration.ofSeconds(10);
    /** A heartbeat this old means the holder is dead (six missed beats; a long GC pause is far shorter). */
    static final Duration STALE = Duration.ofSeconds(60);
    private static final Set<String> OBJECT_STORES = Set.of("s3a", "gs");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String where;
    private final ObjectNode owner;
    private final FileChannel channel;  // local disk
    private final FileLock osLock;      // local disk
    private final FileSystem fs;        // others
    private final org.apache.hadoop.fs.Path hadoopPath;
    private final Path localFile;       // local disk: the key in HELD_HERE
    private final ScheduledExecutorService beats;

    private RunLock(String where, ObjectNode owner, FileChannel channel, FileLock osLock, FileSystem fs,
                    org.apache.hadoop.fs.Path hadoopPath, Path localFile) {
        this.where = where;
        this.owner = owner;
        this.channel = channel;
        this.osLock = osLock;
        this.fs = fs;
        this.hadoopPath = hadoopPath;
        this.localFile = localFile;
        this.beats = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "run-lock-heartbeat");
            t.setDaemon(true);
            return t;
        });
        beats.scheduleWithFixedDelay(this::beat, HEARTBEAT.toMillis(), HEARTBEAT.toMillis(), TimeUnit.MILLISECONDS);
    }

    /**
     * Takes the output folder {@code out} for {@code command} (e.g. "train"), creating the folder if needed.
     *
     * @throws BadInputException when another live run holds it, naming that run
     */
    public static RunLock acquire(Storage out, String command) throws IOException {
        return acquire(out, command, STALE);
    }

    static RunLock acquire(Storage out, String command, Duration stale) throws IOException {
        StorageUrl u = out.locations().get(0);
        String where = u.child(FILE);
        ObjectNode owner = JSON.createObjectNode();
        owner.put("command", command);
        owner.put("host", host());
        owner.put("pid", ProcessHandle.current().pid());
        owner.put("token", UUID.randomUUID().toString());
        owner.put("started", Instant.now().toString());
        owner.put("heartbeat", Instant.now().toString());
        return u.isLocal() ? local(u.localChild(FILE), where, owner) : hadoop(out, u, where, owner, stale);
    }

    /**
     * Lock files this JVM holds, by absolute path, with their holder: a second run in the same JVM is refused from
     * here without opening the file, because closing any channel on a locked file releases the JVM's lock on it.
     */
    private static final java.util.Map<Path, RunLock> HELD_HERE = new java.util.concurrent.ConcurrentHashMap<>();

    private static RunLock local(Path given, String where, ObjectNode owner) throws IOException {
        Path file = given.toAbsolutePath().normalize();
        Files.createDirectories(file.getParent());
        synchronized (HELD_HERE) {
            RunLock here = HELD_HERE.get(file);
            if (here != null) throw refused(where, JSON.writeValueAsString(here.owner));
            FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = ch.tryLock();
            } catch (OverlappingFileLockException | IOException e) {
                ch.close();
                throw e;
            }
            if (lock == null) {
                String held = read(ch);
                ch.close();
                throw refused(where, held);
            }
            RunLock l = takeOver(file, where, owner, ch, lock);
            HELD_HERE.put(file, l);
            return l;
        }
    }

    private static RunLock takeOver(Path file, String where, ObjectNode owner, FileChannel ch, FileLock lock)
            throws IOException {
        String before = read(ch);
        if (!before.isBlank() && !JSON.readTree(before).path("released").asBoolean(false)) {
            LOG.info("run lock: " + describe(before) + " ended without releasing " + where + " (its process no longer"
                    + " holds it); this run takes the folder over");
        }
        RunLock l = new RunLock(where, owner, ch, lock, null, null, file);
        l.write();
        return l;
    }

    private static RunLock hadoop(Storage out, StorageUrl u, String where, ObjectNode owner, Duration stale)
            throws IOException {
        FileSystem fs = out.fileSystem(where);
        org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(where);
        if (OBJECT_STORES.contains(u.scheme())) {
            LOG.info("run lock: " + u.scheme() + "://" + " has no atomic create-if-absent; " + where + " refuses a second"
                    + " run started while this one runs, but one writer per output folder is the rule there");
        }
        for (int attempt = 0; attempt < 2; attempt++) {
            if (createNew(fs, p, owner)) return new RunLock(where, owner, null, null, fs, p, null);
            String held;
            try (var in = fs.open(p)) {
                held = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            } catch (java.io.FileNotFoundException released) {
                continue; // released between the create and the read: try again
            }
            Instant beat = heartbeat(held);
            if (beat != null && beat.plus(stale).isAfter(Instant.now())) throw refused(where, held);
            // a dead run's lock: delete it only if it still holds what was read (another run may have taken it over)
            String again;
            try (var in = fs.open(p)) {
                again = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            } catch (java.io.FileNotFoundException gone) {
                continue;
            }
            if (!again.equals(held)) throw refused(where, again);
            LOG.info("run lock: " + describe(held) + " stopped beating at " + beat + "; this run takes " + where + " over");
            fs.delete(p, false);
        }
        String now;
        try (var in = fs.open(p)) {
            now = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        throw refused(where, now);
    }

    private static boolean createNew(FileSystem fs, org.apache.hadoop.fs.Path p, ObjectNode owner) throws IOException {
        try (FSDataOutputStream o = fs.create(p, false)) {
            o.write(JSON.writeValueAsBytes(owner));
            return true;
        } catch (FileAlreadyExistsException e) {
            return false;
        } catch (IOException e) {
            // HDFS reports a file being created by another client this way
            if (e.getClass().getSimpleName().equals("AlreadyBeingCreatedException")) return false;
            throw e;
        }
    }

    private static BadInputException refused(String where, String held) {
        return new BadInputException("the output folder is in use by " + describe(held) + " (" + where
                + "); wait for that run to end, stop it, or give this run another output folder.");
    }

    private static String describe(String json) {
        try {
            var n = JSON.readTree(json);
            return "a running '" + n.path("command").asText("?") + "' (process " + n.path("pid").asText("?") + " on "
                    + n.path("host").asText("?") + ", started " + n.path("started").asText("?") + ", last heartbeat "
                    + n.path("heartbeat").asText("?") + ")";
        } catch (IOException | RuntimeException e) {
            return "another run (its lock file is unreadable: " + json.strip() + ")";
        }
    }

    private static Instant heartbeat(String json) {
        try {
            return Instant.parse(JSON.readTree(json).path("heartbeat").asText());
        } catch (IOException | RuntimeException e) {
            return null; // unreadable: a half-written lock of a run that died while creating it
        }
    }

    private static String read(FileChannel ch) throws IOException {
        ByteBuffer b = ByteBuffer.allocate((int) Math.min(ch.size(), 1 << 16));
        ch.read(b, 0);
        return new String(b.array(), 0, b.position(), StandardCharsets.UTF_8);
    }

    private static String host() {
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            return "unknown host";
        }
    }

    private synchronized void beat() {
        try {
            owner.put("heartbeat", Instant.now().toString());
            write();
        } catch (IOException | RuntimeException e) {
            LOG.warn("run lock: could not renew " + where + ": " + e.getMessage());
        }
    }

    private synchronized void write() throws IOException {
        byte[] b = JSON.writeValueAsBytes(owner);
        if (channel != null) {
            channel.truncate(0);
            channel.write(ByteBuffer.wrap(b), 0);
            channel.force(false);
            return;
        }
        String held;
        try (var in = fs.open(hadoopPath)) {
            held = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        if (!JSON.readTree(held).path("token").asText().equals(owner.path("token").asText())) {
            LOG.warn("run lock: " + where + " was taken over by " + describe(held) + " (this run's heartbeat stopped"
                    + " for over " + STALE.toSeconds() + " s); stop one of the two runs.");
            return;
        }
        try (FSDataOutputStream o = fs.create(hadoopPath, true)) {
            o.write(b);
        }
    }

    /** Releases the folder: the heartbeat stops, and the lock file says it was released (local) or is removed. */
    @Override
    public synchronized void close() throws IOException {
        beats.shutdownNow();
        if (channel != null) {
            try {
                owner.put("released", true);
                write();
                osLock.release();
            } finally {
                channel.close();
                HELD_HERE.remove(localFile);
            }
            return;
        }
        try (var in = fs.open(hadoopPath)) {
            String held = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            if (JSON.readTree(held).path("token").asText().equals(owner.path("token").asText())) {
                fs.delete(hadoopPath, false);
            }
        } catch (java.io.FileNotFoundException gone) {
            // taken over and released by another run
        }
    }
}
