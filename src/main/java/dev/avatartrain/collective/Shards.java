package dev.avatartrain.collective;

/**
 * How a flat buffer of {@code count} elements is cut among ranks, the same way for the ring's steps and for ZeRO-1's
 * owners: balanced, {@code count / ranks} each and one more for the first {@code count % ranks} ranks, so shards
 * differ by at most one element; zero-length shards happen when there are fewer elements than ranks.
 */
public final class Shards {
    private Shards() {
    }

    /** Rank {@code rank}'s shard of {@code count} elements cut among {@code ranks}. */
    public static Shard of(long count, int ranks, int rank) {
        if (count < 0 || ranks < 1 || rank < 0 || rank >= ranks) {
            throw new IllegalArgumentException("Shards.of needs count >= 0 and 0 <= rank < ranks, not count " + count
                    + ", ranks " + ranks + ", rank " + rank);
        }
        long base = count / ranks;
        long extra = count % ranks;
        long offset = rank * base + Math.min(rank, extra);
        return new Shard(offset, base + (rank < extra ? 1 : 0));
    }
}
