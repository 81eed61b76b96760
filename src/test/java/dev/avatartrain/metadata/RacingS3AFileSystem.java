package dev.avatartrain.metadata;

import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.s3a.S3AFileSystem;

import java.io.IOException;

/**
 * S3A with a hook a test uses to put a writer into a reader's race window, deterministically: right after an
 * {@code exists} check (before the open that follows it) and right after an open has sent its HEAD (before the first
 * GET, which S3A checks against the HEAD's ETag). Selected with {@code fs.s3a.impl}.
 */
public class RacingS3AFileSystem extends S3AFileSystem {
    /** What happens in a race window: {@code event} is "exists" or "open". */
    @FunctionalInterface
    public interface Hook {
        void at(String event, Path path) throws IOException;
    }

    static volatile Hook hook;

    @Override
    @SuppressWarnings("deprecation")
    public boolean exists(Path f) throws IOException {
        boolean there = super.exists(f);
        Hook h = hook;
        if (h != null) h.at("exists", f);
        return there;
    }

    @Override
    public FSDataInputStream open(Path f, int bufferSize) throws IOException {
        FSDataInputStream in = super.open(f, bufferSize);
        Hook h = hook;
        if (h != null) h.at("open", f);
        return in;
    }
}
