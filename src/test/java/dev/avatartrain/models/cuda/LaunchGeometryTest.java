package dev.avatartrain.models.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The grids the kernels are launched with cover their loops exactly, within CUDA's limits. */
class LaunchGeometryTest {
    /** Runs the grid-stride loop of common.cuh on the host and counts the visits per element. */
    private static int[] visits(LaunchGeometry g, int n) {
        int[] v = new int[n];
        long stride = (long) g.gridX() * g.blockX();
        for (long t = 0; t < stride; t++) {
            for (long i = t; i < n; i += stride) {
                v[(int) i]++;
            }
        }
        return v;
    }

    @Test
    void theGridStrideLoopVisitsEachElementOnce() {
        for (int n : new int[] {0, 1, 255, 256, 257, 5000, 100_003}) {
            for (int maxBlocks : new int[] {1, 3, LaunchGeometry.maxBlocks(132)}) {
                LaunchGeometry g = LaunchGeometry.gridStride(n, maxBlocks);
                assertTrue(g.gridX() >= 1 && g.gridX() <= maxBlocks, g.toString());
                for (int c : visits(g, n)) {
                    assertEquals(1, c);
                }
            }
        }
        // a big tensor is capped at the cap, not 2^31 / 256 blocks
        assertEquals(132 * 8, LaunchGeometry.gridStride(3_000_000_000L, LaunchGeometry.maxBlocks(132)).gridX());
    }

    @Test
    void rowKernelsGetWholeWarpsUpTo1024Threads() {
        assertEquals(32, LaunchGeometry.perRow(10, 1).blockX());
        assertEquals(32, LaunchGeometry.perRow(10, 32).blockX());
        assertEquals(64, LaunchGeometry.perRow(10, 33).blockX());
        assertEquals(1024, LaunchGeometry.perRow(10, 320 * 64 * 64).blockX());
        assertEquals(24, LaunchGeometry.perRow(24, 77).gridX());
        assertThrows(IllegalArgumentException.class, () -> LaunchGeometry.perRow(0, 5));
    }

    @Test
    void theTransposeTilesCoverTheMatrix() {
        LaunchGeometry g = LaunchGeometry.transpose(12, 1024, 320);
        assertEquals(10, g.gridX());
        assertEquals(32, g.gridY());
        assertEquals(12, g.gridZ());
        assertEquals(32 * 8, g.blockX() * g.blockY());
        LaunchGeometry odd = LaunchGeometry.transpose(1, 33, 1);
        assertEquals(1, odd.gridX());
        assertEquals(2, odd.gridY());
        assertThrows(IllegalArgumentException.class, () -> LaunchGeometry.transpose(70_000, 4, 4));
    }

    @Test
    void columnKernelsHaveAThreadPerColumn() {
        assertEquals(1, LaunchGeometry.perColumn(1).gridX());
        assertEquals(5, LaunchGeometry.perColumn(1280).gridX());
        assertTrue(LaunchGeometry.perColumn(1281).threads() >= 1281);
    }
}
