package dev.avatartrain.storage;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.UUID;

/**
 * Writes local files so that a reader sees either the old content or the complete new content, never a
 * half-written file: the body goes to a temporary file in the same directory, which is synced and then
 * renamed over the target. Files and folders are created with the process's umask applied (0644 and 0755 under the
 * usual 022), as any other program's outputs: {@link Files#createTempFile} would make them 0600, private to the user.
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** Something that writes to a stream and may fail with an I/O error. */
    @FunctionalInterface
    public interface IOConsumer<T> {
        void accept(T value) throws IOException;
    }

    public static void write(Path target, IOConsumer<OutputStream> body) throws IOException {
        Path dir = target.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = dir.resolve("." + target.getFileName() + "." + UUID.randomUUID() + ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                 OutputStream out = new java.io.BufferedOutputStream(java.nio.channels.Channels.newOutputStream(ch), 1 << 16)) {
                body.accept(out);
                out.flush();
                ch.force(true);
            }
            moveIntoPlace(tmp, target);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * A new empty folder beside {@code target} (named after it) for a tree to be built and then moved into place with
     * {@link #moveIntoPlace}; unlike {@link Files#createTempDirectory} it gets the umask's mode, not 0700.
     */
    public static Path newFolderBeside(Path target) throws IOException {
        Path abs = target.toAbsolutePath();
        Files.createDirectories(abs.getParent());
        return Files.createDirectory(abs.resolveSibling("." + abs.getFileName() + "." + UUID.randomUUID() + ".tmp"));
    }

    public static void writeString(Path target, String text) throws IOException {
        write(target, out -> out.write(text.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
    }

    /** Renames a finished temporary file or directory over {@code target} (atomically where the file system can). */
    public static void moveIntoPlace(Path source, Path target) throws IOException {
        try {
            Files.move(source, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(source, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
