package dev.avatartrain.models.cuda;

import static org.bytedeco.cuda.global.cublas.*;
import static org.bytedeco.cuda.global.cudart.CUDA_R_16BF;
import static org.bytedeco.cuda.global.cudart.CUDA_R_32F;

import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.javacpp.FloatPointer;

import dev.avatartrain.models.cuda.CudaLibraries.Library;

/**
 * Matrix products on cuBLAS, in row-major terms: the backend's tensors are row-major and cuBLAS is column-major, so
 * each product is computed transposed ({@code Cᵀ = Bᵀ·Aᵀ}, which needs no copy). Inputs float32 or bfloat16, output
 * float32 or bfloat16, always float32 accumulation ({@code CUBLAS_COMPUTE_32F}: no TF32, so float32 results match the
 * CPU's to rounding).
 */
final class Gemm {
    private final cublasContext handle = new cublasContext();
    private final FloatPointer one = new FloatPointer(1).put(1f);
    private final FloatPointer zero = new FloatPointer(1).put(0f);

    Gemm(CudaDevice device) {
        CudaDevice.preload(Library.CUBLASLT, Library.CUBLAS);
        check(cublasCreate_v2(handle), "cublasCreate");
        check(cublasSetStream_v2(handle, device.stream()), "cublasSetStream");
    }

    /**
     * {@code C[M, N] (+)= op(A) · op(B)} row-major, where {@code op(A)} is {@code A [M, K]} or, transposed,
     * {@code A [K, M]}; likewise {@code B [K, N]} or {@code B [N, K]}. {@code accumulate}: add to C.
     */
    void matmul(DeviceTensor a, boolean transA, DeviceTensor b, boolean transB, DeviceTensor c, int m, int n, int k,
                boolean accumulate) {
        // row-major C = op(A)·op(B)  <=>  column-major Cᵀ = op(B)ᵀ·op(A)ᵀ with B first
        int lda = transA ? m : k;
        int ldb = transB ? k : n;
        check(cublasGemmEx(handle, transB ? CUBLAS_OP_T : CUBLAS_OP_N, transA ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k,
                one, CudaDevice.at(b.address), type(b), ldb, CudaDevice.at(a.address), type(a), lda,
                accumulate ? one : zero, CudaDevice.at(c.address), type(c), n, CUBLAS_COMPUTE_32F,
                CUBLAS_GEMM_DEFAULT), "cublasGemmEx");
    }

    /**
     * {@code count} products of a strided-batched GEMM in column-major terms, with explicit leading dimensions and
     * element offsets/strides (the attention path's per-head matrices live interleaved in the token rows).
     */
    void columnMajorBatched(boolean transA, boolean transB, int m, int n, int k,
                            DeviceTensor a, long offA, int lda, long strideA,
                            DeviceTensor b, long offB, int ldb, long strideB,
                            DeviceTensor c, long offC, int ldc, long strideC, int count) {
        check(cublasGemmStridedBatchedEx(handle, transA ? CUBLAS_OP_T : CUBLAS_OP_N, transB ? CUBLAS_OP_T
                : CUBLAS_OP_N, m, n, k, one, CudaDevice.at(a.address + offA * a.dtype().bytes), type(a), lda, strideA,
                CudaDevice.at(b.address + offB * b.dtype().bytes), type(b), ldb, strideB, zero,
                CudaDevice.at(c.address + offC * c.dtype().bytes), type(c), ldc, strideC, count, CUBLAS_COMPUTE_32F,
                CUBLAS_GEMM_DEFAULT), "cublasGemmStridedBatchedEx");
    }

    private static int type(DeviceTensor t) {
        return t.dtype() == DType.F32 ? CUDA_R_32F : CUDA_R_16BF;
    }

    private static void check(int status, String call) {
        if (status != CUBLAS_STATUS_SUCCESS) {
            throw new CudaException(call + " failed: cuBLAS status " + status);
        }
    }

    void close() {
        cublasDestroy_v2(handle);
    }
}
