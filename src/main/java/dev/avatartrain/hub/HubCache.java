package dev.avatartrain.hub;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

import dev.avatartrain.storage.AtomicFiles;

/**
 * One repo's folder in the hub cache, in {@code huggingface_hub}'s layout:
 * <pre>
 * models--owner--name/
 *   blobs/&lt;etag&gt;                      file contents, named by the server's ETag (git sha1 or LFS sha256)
 *   refs/&lt;revision&gt;                   the commit a branch or tag pointed at when last resolved
 *   snapshots/&lt;commit&gt;/&lt;path&gt;        relative symlinks into blobs/
 * </pre>
 * Every file is written under a temporary name and renamed into place, so concurrent processes
 * (Python, executors on one node) never see a partial file; files get the umask's mode (0644), as Python's do.
 */
final class HubCache {
    private final Path repoDir;

    HubCache(Path cacheDir, String repoId) {
        this.repoDir = cacheDir.resolve("models--" + repoId.replace("/", "--"));
    }

    Path repoDir() {
        return repoDir;
    }

    Path blob(String etag) {
        return repoDir.resolve("blobs").resolve(etag);
    }

    Path pointer(String snapshot, String repoPath) {
        return repoDir.resolve("snapshots").resolve(snapshot).resolve(repoPath);
    }

    /** The commit (snapshot folder) {@code revision} resolved to last time, or null. */
    String commitOf(String revision) throws IOException {
        if (revision.matches("[0-9a-f]{40}")) return revision;
        Path ref = repoDir.resolve("refs").resolve(revision);
        return Files.isRegularFile(ref) ? Files.readString(ref, StandardCharsets.UTF_8).strip() : null;
    }

    void writeRef(String revision, String commit) throws IOException {
        if (revision.matches("[0-9a-f]{40}")) return; // a commit needs no ref
        Path ref = repoDir.resolve("refs").resolve(revision);
        if (Files.isRegularFile(ref) && Files.readString(ref, StandardCharsets.UTF_8).strip().equals(commit)) return;
        AtomicFiles.writeString(ref, commit);
    }

    /** huggingface_hub's download lock of a blob: {@code <cache>/.locks/models--owner--name/<etag>.lock}. */
    Path lock(String etag) {
        return repoDir.getParent().resolve(".locks").resolve(repoDir.getFileName()).resolve(etag + ".lock");
    }

    /** A fresh temporary file beside the blobs, for a download in progress. */
    Path newIncomplete() throws IOException {
        Path dir = repoDir.resolve("blobs");
        Files.createDirectories(dir);
        return dir.resolve("." + UUID.randomUUID() + ".incomplete");
    }

    /** Makes {@code snapshots/<snapshot>/<repoPath>} point at the blob (a relative symlink; a copy where links fail). */
    Path link(String snapshot, String repoPath, String etag) throws IOException {
        Path pointer = pointer(snapshot, repoPath);
        Path blob = blob(etag);
        Files.createDirectories(pointer.getParent());
        Path tmp = pointer.resolveSibling("." + pointer.getFileName() + "." + UUID.randomUUID() + ".tmp");
        try {
            try {
                Files.createSymbolicLink(tmp, pointer.getParent().relativize(blob));
            } catch (UnsupportedOperationException | IOException e) {
                Files.copy(blob, tmp);
            }
            AtomicFiles.moveIntoPlace(tmp, pointer);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return pointer;
    }
}
