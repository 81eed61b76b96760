package dev.avatartrain.models.cuda;

/** A CUDA, cuBLAS or cuDNN call that returned an error: the call and the library's own description. */
public final class CudaException extends RuntimeException {
    public CudaException(String message) {
        super(message);
    }
}
