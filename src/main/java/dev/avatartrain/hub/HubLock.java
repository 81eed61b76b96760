package dev.avatartrain.hub;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Platform;

/**
 * {@code huggingface_hub}'s download lock, {@code <cache>/.locks/models--owner--name/<etag>.lock}, taken the way its
 * {@code filelock} takes it on Linux and macOS: {@code flock(2)} on the file opened read-write. Java's own
 * {@link FileChannel#lock} is an {@code fcntl} record lock, which {@code flock} does not see, so a Python download and
 * ours would not wait for each other; {@code flock} is called through JNA. Elsewhere (or where the file system refuses
 * {@code flock}) the lock falls back to {@link FileChannel#lock}, which still orders JVMs among themselves.
 */
final class HubLock implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(HubLock.class);
    private static final int LOCK_EX = 2, LOCK_NB = 4, LOCK_UN = 8, O_RDWR = 2;
    private static final LibC LIBC = loadLibC();

    /** The three C calls this needs. */
    interface LibC extends Library {
        int open(String path, int flags, int mode);

        int flock(int fd, int operation);

        int close(int fd);
    }

    private final int fd;
    private final FileChannel channel;
    private final FileLock lock;

    private HubLock(int fd, FileChannel channel, FileLock lock) {
        this.fd = fd;
        this.channel = channel;
        this.lock = lock;
    }

    private static LibC loadLibC() {
        if (!(Platform.isLinux() || Platform.isMac())) return null;
        try {
            return Native.load("c", LibC.class);
        } catch (UnsatisfiedLinkError | RuntimeException e) {
            LOG.warn("hub: cannot load the C library for flock ({}); download locks order JVMs only, not Python",
                    e.toString());
            return null;
        }
    }

    /** Waits until this process holds {@code file} (created if missing), logging while another download holds it. */
    static HubLock acquire(Path file, String what) throws IOException, InterruptedException {
        Files.createDirectories(file.getParent());
        long start = System.nanoTime(), nextNote = 10;
        if (LIBC != null) {
            int oCreat = Platform.isMac() ? 0x200 : 0100;
            int fd = LIBC.open(file.toString(), O_RDWR | oCreat, 0644);
            if (fd >= 0) {
                while (true) {
                    if (LIBC.flock(fd, LOCK_EX | LOCK_NB) == 0) return new HubLock(fd, null, null);
                    int errno = Native.getLastError();
                    if (errno != (Platform.isMac() ? 35 : 11)) { // not EWOULDBLOCK: a file system without flock
                        LIBC.close(fd);
                        LOG.warn("hub: flock on {} failed (errno {}); falling back to a JVM file lock", file, errno);
                        break;
                    }
                    nextNote = waited(start, nextNote, file, what);
                }
            }
        }
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
        try {
            while (true) {
                try {
                    FileLock l = ch.tryLock();
                    if (l != null) return new HubLock(-1, ch, l);
                } catch (OverlappingFileLockException e) {
                    // another thread of this JVM holds it: wait as for another process
                }
                nextNote = waited(start, nextNote, file, what);
            }
        } catch (IOException | InterruptedException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    private static long waited(long start, long nextNote, Path file, String what) throws InterruptedException {
        Thread.sleep(100);
        long s = (System.nanoTime() - start) / 1_000_000_000L;
        if (s < nextNote) return nextNote;
        LOG.info("hub: {}: waiting {} s for another download of it (lock {})", what, s, file);
        return nextNote * 2;
    }

    @Override
    public void close() throws IOException {
        if (channel != null) {
            try (channel) {
                lock.release();
            }
            return;
        }
        LIBC.flock(fd, LOCK_UN);
        LIBC.close(fd);
    }
}
