package dev.avatartrain.train;

import java.util.ArrayList;
import java.util.List;

import dev.avatartrain.collective.Shard;
import dev.avatartrain.collective.Shards;

/**
 * The flat layout cut into buckets for the exchange, as DDP's reducer does: whole tensors, last tensor first (the
 * order a backward pass finishes them), about {@code bucketFloats} each (a larger tensor is a bucket of its own). Each
 * bucket is a contiguous range of the flat buffer; under ZeRO-1 rank r of N owns shard r of every bucket
 * ({@link Shards#of}), so its part of the optimizer state is the concatenation of those shards, bucket by bucket.
 */
public final class GradientBuckets {
    /** DDP's default bucket: 25 MB of float32. */
    public static final int DEFAULT_BUCKET_FLOATS = 25 * 1000 * 1000 / 4;

    /** Tensors {@code [firstTensor, lastTensor]} = flat elements {@code [start, end)}. */
    public record Bucket(int index, int firstTensor, int lastTensor, long start, long end) {
        public int length() {
            return (int) (end - start);
        }
    }

    private final FlatLayout layout;
    private final List<Bucket> buckets = new ArrayList<>();
    private final int[] bucketOfTensor;

    public GradientBuckets(FlatLayout layout, int bucketFloats) {
        this.layout = layout;
        int n = layout.names().size();
        bucketOfTensor = new int[n];
        int last = n - 1;
        while (last >= 0) {
            int first = last;
            long size = layout.length(first);
            while (first > 0 && size + layout.length(first - 1) <= bucketFloats) size += layout.length(--first);
            if (size > Integer.MAX_VALUE - 8)
                throw new IllegalArgumentException("tensor \"" + layout.names().get(first) + "\" has " + size
                        + " elements; the exchange takes tensors of up to 2^31 - 9 elements");
            Bucket b = new Bucket(buckets.size(), first, last, layout.offset(first), layout.offset(last) + layout.length(last));
            for (int t = first; t <= last; t++) bucketOfTensor[t] = b.index();
            buckets.add(b);
            last = first - 1;
        }
    }

    public FlatLayout layout() {
        return layout;
    }

    /** Buckets in the order the backward pass completes them (the last tensors first). */
    public List<Bucket> all() {
        return buckets;
    }

    public int bucketOf(int tensor) {
        return bucketOfTensor[tensor];
    }

    /** The largest bucket's length. */
    public int maxLength() {
        int m = 0;
        for (Bucket b : buckets) m = Math.max(m, b.length());
        return m;
    }

    /** Rank {@code rank}'s shard of bucket {@code b}, relative to the bucket's start. */
    public static Shard shard(Bucket b, int ranks, int rank) {
        return Shards.of(b.length(), ranks, rank);
    }

    /** The flat ranges rank {@code rank} of {@code ranks} owns, {start, length} in bucket order (empty ones left out). */
    public List<long[]> ownedRanges(int ranks, int rank) {
        List<long[]> out = new ArrayList<>();
        for (Bucket b : buckets) {
            Shard s = shard(b, ranks, rank);
            if (s.length() > 0) out.add(new long[]{b.start() + s.offset(), s.length()});
        }
        return out;
    }

    /** Elements rank {@code rank} of {@code ranks} owns. */
    public long ownedLength(int ranks, int rank) {
        long n = 0;
        for (long[] r : ownedRanges(ranks, rank)) n += r[1];
        return n;
    }
}
