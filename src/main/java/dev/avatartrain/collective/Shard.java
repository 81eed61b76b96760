package dev.avatartrain.collective;

/** One rank's part of a flat buffer: {@code length} elements from {@code offset} (both in elements, not bytes). */
public record Shard(long offset, long length) {

    public Shard {
        if (offset < 0 || length < 0) {
            throw new IllegalArgumentException("a shard needs offset >= 0 and length >= 0, not " + offset + ", "
                    + length);
        }
    }

    /** The first element after the shard. */
    public long end() {
        return offset + length;
    }
}
