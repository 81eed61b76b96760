package dev.avatartrain.models.cuda;

/** The element types of device tensors: float32 (master weights, fp32 compute) and bfloat16 (mixed precision). */
public enum DType {
    F32("f32", 4), BF16("bf16", 2);

    /** The suffix of the typed kernels' names. */
    public final String suffix;
    public final int bytes;

    DType(String suffix, int bytes) {
        this.suffix = suffix;
        this.bytes = bytes;
    }
}
