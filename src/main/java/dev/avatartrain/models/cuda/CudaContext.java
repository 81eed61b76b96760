package dev.avatartrain.models.cuda;

/**
 * A GPU with its libraries' handles, shared by the passes of one worker: cuBLAS opened with the device, cuDNN on the
 * first convolution (the adapter needs none), each library's file checked before it is loaded.
 */
public final class CudaContext implements AutoCloseable {
    private final CudaDevice device;
    private final Gemm gemm;
    private Convolutions convolutions;

    public CudaContext(int ordinal) {
        this.device = CudaDevice.open(ordinal);
        this.gemm = new Gemm(device);
    }

    public CudaDevice device() {
        return device;
    }

    Gemm gemm() {
        return gemm;
    }

    Convolutions convolutions() {
        if (convolutions == null) {
            convolutions = new Convolutions(device);
        }
        return convolutions;
    }

    @Override
    public void close() {
        if (convolutions != null) {
            convolutions.close();
        }
        gemm.close();
        device.close();
    }
}
