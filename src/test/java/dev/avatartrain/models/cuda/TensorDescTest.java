package dev.avatartrain.models.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/** Descriptors, strides and workspace sizes. */
class TensorDescTest {
    @Test
    void rowMajorStridesAreNd4jsCOrder() {
        long[] shape = {2, 3, 5, 7};
        assertArrayEquals(Nd4j.zeros(DataType.FLOAT, shape).stride(), TensorDesc.of(DType.F32, shape).strides());
        assertArrayEquals(new long[] {1}, TensorDesc.of(DType.F32, 9).strides());
    }

    @Test
    void channelsLastStridesAddressTheNhwcElement() {
        TensorDesc d = new TensorDesc(DType.BF16, new long[] {2, 3, 4, 5}, true);
        long[] st = d.strides();
        // element (n, c, h, w) of an NHWC buffer sits at ((n·H + h)·W + w)·C + c
        for (int n = 0; n < 2; n++) {
            for (int c = 0; c < 3; c++) {
                for (int h = 0; h < 4; h++) {
                    for (int w = 0; w < 5; w++) {
                        assertEquals(((n * 4L + h) * 5 + w) * 3 + c, n * st[0] + c * st[1] + h * st[2] + w * st[3]);
                    }
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> new TensorDesc(DType.F32, new long[] {2, 3}, true));
        assertThrows(IllegalStateException.class, () -> d.reshape(120));
    }

    @Test
    void sizesAndViews() {
        TensorDesc x = TensorDesc.of(DType.BF16, 2, 1024, 320);
        assertEquals(2L * 1024 * 320 * 2, x.bytes());
        assertEquals(TensorDesc.of(DType.BF16, 2048, 320), x.rows());
        assertEquals(320, x.size(-1));
        assertThrows(IllegalArgumentException.class, () -> x.reshape(3, 5));
        assertThrows(IllegalArgumentException.class, () -> TensorDesc.of(DType.F32, 2, -1));
    }

    @Test
    void workspaceSizes() {
        assertEquals(0, Workspace.align(0));
        assertEquals(256, Workspace.align(1));
        assertEquals(512, Workspace.align(257));
        // the default UNet's first attention at B=32, 8 heads, 32×32 latents: 1024 queries × 1024 keys
        assertEquals(32L * 8 * 1024 * 1024 * 4, Workspace.attentionScores(32, 8, 1024, 1024));
        assertEquals(64, Workspace.attentionSlicesPerChunk(1024, 1024, 512L << 20));
        assertEquals(1, Workspace.attentionSlicesPerChunk(1024, 1024, 1));
        assertEquals(512, Workspace.normStatistics(24));
    }
}
