package dev.avatartrain.models.cuda;

import java.util.Arrays;

/**
 * The shape, element type and layout of a dense device tensor: what cuDNN's and cuBLAS's descriptors are made from.
 * Shapes are PyTorch's (NCHW); a tensor is stored row-major ({@link #strides()}) or, for 4-D images, channels-last
 * ({@link #nhwc}: the same logical NCHW shape with NHWC strides, which is how cuDNN describes it).
 */
public record TensorDesc(DType dtype, long[] shape, boolean nhwc) {
    public TensorDesc {
        shape = shape.clone();
        for (long s : shape) {
            if (s < 0) {
                throw new IllegalArgumentException("negative size in " + Arrays.toString(shape));
            }
        }
        if (nhwc && shape.length != 4) {
            throw new IllegalArgumentException("channels-last needs a 4-D NCHW shape, not " + Arrays.toString(shape));
        }
    }

    public static TensorDesc of(DType dtype, long... shape) {
        return new TensorDesc(dtype, shape, false);
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    public int rank() {
        return shape.length;
    }

    public long size(int axis) {
        return shape[axis < 0 ? shape.length + axis : axis];
    }

    public long elements() {
        long n = 1;
        for (long s : shape) {
            n = Math.multiplyExact(n, s);
        }
        return n;
    }

    public long bytes() {
        return Math.multiplyExact(elements(), dtype.bytes);
    }

    /** Element strides in the logical (NCHW) axis order. */
    public long[] strides() {
        if (nhwc) {
            long c = shape[1];
            long w = shape[3];
            return new long[] {shape[2] * w * c, 1, w * c, c};
        }
        long[] st = new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            st[i] = s;
            s *= shape[i];
        }
        return st;
    }

    /** The same memory with another row-major shape of as many elements (a free view). */
    public TensorDesc reshape(long... to) {
        if (nhwc) {
            throw new IllegalStateException("a channels-last tensor is reshaped only after a layout change");
        }
        TensorDesc r = of(dtype, to);
        if (r.elements() != elements()) {
            throw new IllegalArgumentException("cannot view " + Arrays.toString(shape) + " as " + Arrays.toString(to));
        }
        return r;
    }

    /** {@code [rows, last]}: the kernels that work on rows of the last axis. */
    public TensorDesc rows() {
        long last = shape.length == 0 ? 1 : shape[shape.length - 1];
        return reshape(last == 0 ? 0 : elements() / last, last);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorDesc t && t.dtype == dtype && t.nhwc == nhwc && Arrays.equals(t.shape, shape);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(shape) * 31 + dtype.hashCode() * 2 + (nhwc ? 1 : 0);
    }

    @Override
    public String toString() {
        return dtype.suffix + Arrays.toString(shape) + (nhwc ? " NHWC" : "");
    }
}
