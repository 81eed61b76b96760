package dev.avatartrain.models.cuda;

/** A kernel source NVRTC rejected (the message carries NVRTC's log), or a failure of NVRTC itself. */
public final class KernelCompileException extends RuntimeException {
    public KernelCompileException(String message) {
        super(message);
    }
}
