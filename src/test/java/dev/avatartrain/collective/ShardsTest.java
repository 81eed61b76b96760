package dev.avatartrain.collective;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ShardsTest {

    @Test
    void shardsTileTheBufferInOrderAndDifferByAtMostOne() {
        long[] counts = {0, 1, 2, 3, 5, 7, 10, 1001, (1L << 33) + 3};
        for (long count : counts) {
            for (int ranks = 1; ranks <= 9; ranks++) {
                long next = 0;
                long min = Long.MAX_VALUE;
                long max = 0;
                for (int r = 0; r < ranks; r++) {
                    Shard s = Shards.of(count, ranks, r);
                    assertEquals(next, s.offset(), "count " + count + " ranks " + ranks + " rank " + r);
                    next = s.end();
                    min = Math.min(min, s.length());
                    max = Math.max(max, s.length());
                }
                assertEquals(count, next, "shards cover the buffer: count " + count + " ranks " + ranks);
                assertTrue(max - min <= 1, "balanced: count " + count + " ranks " + ranks);
            }
        }
    }

    @Test
    void theFirstRanksGetTheRemainder() {
        // 10 over 4: base 2, remainder 2 -> 3, 3, 2, 2
        assertEquals(new Shard(0, 3), Shards.of(10, 4, 0));
        assertEquals(new Shard(3, 3), Shards.of(10, 4, 1));
        assertEquals(new Shard(6, 2), Shards.of(10, 4, 2));
        assertEquals(new Shard(8, 2), Shards.of(10, 4, 3));
        // fewer elements than ranks: zero-length shards at the end
        assertEquals(new Shard(1, 1), Shards.of(2, 3, 1));
        assertEquals(new Shard(2, 0), Shards.of(2, 3, 2));
        assertEquals(new Shard(0, 0), Shards.of(0, 2, 0));
    }

    @Test
    void badArgumentsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> Shards.of(-1, 2, 0));
        assertThrows(IllegalArgumentException.class, () -> Shards.of(4, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> Shards.of(4, 2, 2));
    }
}
