package dev.avatartrain.models.cuda;

/**
 * A dense tensor in device memory: its address and descriptor. A view (a reshape) shares its owner's memory; freeing
 * a view frees the owner ({@link CudaDevice#free}, once), so a gradient handed on as a view of another is freed by
 * whoever consumes it last.
 */
public final class DeviceTensor {
    final long address;
    final TensorDesc desc;
    /** The tensor that owns the memory: this one, or the one this is a view of. */
    final DeviceTensor owner;
    private boolean freed;

    DeviceTensor(long address, TensorDesc desc, DeviceTensor owner) {
        this.address = address;
        this.desc = desc;
        this.owner = owner == null ? this : owner;
    }

    boolean isView() {
        return owner != this;
    }

    public TensorDesc desc() {
        return desc;
    }

    public long[] shape() {
        return desc.shape();
    }

    public DType dtype() {
        return desc.dtype();
    }

    public long elements() {
        return desc.elements();
    }

    /** The same memory as another shape of as many elements. */
    public DeviceTensor reshape(long... shape) {
        return new DeviceTensor(address, desc.reshape(shape), owner);
    }

    /** Marks the memory freed; false if it already was (a second free is a bug the caller hears of). */
    boolean markFreed() {
        if (freed) {
            return false;
        }
        freed = true;
        return true;
    }

    @Override
    public String toString() {
        return desc + "@" + Long.toHexString(address);
    }
}
