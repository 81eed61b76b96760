package dev.avatartrain.models.cuda;

import static org.bytedeco.cuda.global.cudnn.*;

import java.util.HashMap;
import java.util.Map;

import org.bytedeco.cuda.cudnn.cudnnContext;
import org.bytedeco.cuda.cudnn.cudnnConvolutionBwdDataAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionBwdFilterAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionFwdAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionStruct;
import org.bytedeco.cuda.cudnn.cudnnFilterStruct;
import org.bytedeco.cuda.cudnn.cudnnTensorStruct;
import org.bytedeco.javacpp.FloatPointer;

import dev.avatartrain.models.cuda.CudaLibraries.Library;

/**
 * {@code nn.Conv2d} on cuDNN's convolution API (forward, backward data, backward filter), NCHW, square kernels,
 * symmetric padding. The algorithm of each direction is chosen once per shape and type by cuDNN's own measurement
 * ({@code cudnnFind*}) and cached with its workspace size. float32 uses FMA math (no TF32: results match the CPU to
 * rounding); bfloat16 uses tensor cores. The weight gradient has the input's type (cuDNN's rule).
 */
final class Convolutions {
    /** One shape's descriptors and chosen algorithms. */
    private static final class Plan {
        final cudnnTensorStruct x = new cudnnTensorStruct();
        final cudnnTensorStruct y = new cudnnTensorStruct();
        final cudnnFilterStruct w = new cudnnFilterStruct();
        final cudnnConvolutionStruct conv = new cudnnConvolutionStruct();
        int fwd;
        int bwdData;
        int bwdFilter;
        long workspace;
    }

    private final CudaDevice device;
    private final cudnnContext handle = new cudnnContext();
    private final Map<String, Plan> plans = new HashMap<>();
    private final FloatPointer one = new FloatPointer(1).put(1f);
    private final FloatPointer zero = new FloatPointer(1).put(0f);

    Convolutions(CudaDevice device) {
        CudaDevice.preload(Library.CUDNN);
        this.device = device;
        check(cudnnCreate(handle), "cudnnCreate");
        check(cudnnSetStream(handle, device.stream()), "cudnnSetStream");
    }

    /** The output shape {@code [B, O, H', W']} of {@code x [B, C, H, W]} with weight {@code [O, C, k, k]}. */
    static long[] outputShape(long[] x, long[] w, int stride, int pad) {
        long k = w[2];
        return new long[] {x[0], w[0], (x[2] + 2L * pad - k) / stride + 1, (x[3] + 2L * pad - k) / stride + 1};
    }

    private Plan plan(DeviceTensor x, DeviceTensor w, long[] yShape, int stride, int pad) {
        long[] xs = x.shape();
        long[] ws = w.shape();
        String key = x.dtype() + java.util.Arrays.toString(xs) + java.util.Arrays.toString(ws) + stride + "/" + pad;
        Plan p = plans.get(key);
        if (p != null) {
            return p;
        }
        p = new Plan();
        int type = x.dtype() == DType.F32 ? CUDNN_DATA_FLOAT : CUDNN_DATA_BFLOAT16;
        check(cudnnCreateTensorDescriptor(p.x), "cudnnCreateTensorDescriptor");
        check(cudnnCreateTensorDescriptor(p.y), "cudnnCreateTensorDescriptor");
        check(cudnnCreateFilterDescriptor(p.w), "cudnnCreateFilterDescriptor");
        check(cudnnCreateConvolutionDescriptor(p.conv), "cudnnCreateConvolutionDescriptor");
        check(cudnnSetTensor4dDescriptor(p.x, CUDNN_TENSOR_NCHW, type, (int) xs[0], (int) xs[1], (int) xs[2],
                (int) xs[3]), "cudnnSetTensor4dDescriptor(x)");
        check(cudnnSetTensor4dDescriptor(p.y, CUDNN_TENSOR_NCHW, type, (int) yShape[0], (int) yShape[1],
                (int) yShape[2], (int) yShape[3]), "cudnnSetTensor4dDescriptor(y)");
        check(cudnnSetFilter4dDescriptor(p.w, type, CUDNN_TENSOR_NCHW, (int) ws[0], (int) ws[1], (int) ws[2],
                (int) ws[3]), "cudnnSetFilter4dDescriptor");
        check(cudnnSetConvolution2dDescriptor(p.conv, pad, pad, stride, stride, 1, 1, CUDNN_CROSS_CORRELATION,
                CUDNN_DATA_FLOAT), "cudnnSetConvolution2dDescriptor");
        check(cudnnSetConvolutionMathType(p.conv, x.dtype() == DType.F32 ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH),
                "cudnnSetConvolutionMathType");
        int[] n = {0};
        cudnnConvolutionFwdAlgoPerf_t fwd = new cudnnConvolutionFwdAlgoPerf_t(1);
        check(cudnnFindConvolutionForwardAlgorithm(handle, p.x, p.w, p.conv, p.y, 1, n, fwd), "find forward");
        cudnnConvolutionBwdDataAlgoPerf_t data = new cudnnConvolutionBwdDataAlgoPerf_t(1);
        check(cudnnFindConvolutionBackwardDataAlgorithm(handle, p.w, p.y, p.conv, p.x, 1, n, data),
                "find backward data");
        cudnnConvolutionBwdFilterAlgoPerf_t filter = new cudnnConvolutionBwdFilterAlgoPerf_t(1);
        check(cudnnFindConvolutionBackwardFilterAlgorithm(handle, p.x, p.y, p.conv, p.w, 1, n, filter),
                "find backward filter");
        p.fwd = fwd.algo();
        p.bwdData = data.algo();
        p.bwdFilter = filter.algo();
        p.workspace = Math.max(fwd.memory(), Math.max(data.memory(), filter.memory()));
        plans.put(key, p);
        return p;
    }

    /** {@code y = conv(x, w)} into a new tensor (the bias is added by the caller). */
    DeviceTensor forward(DeviceTensor x, DeviceTensor w, int stride, int pad) {
        long[] ys = outputShape(x.shape(), w.shape(), stride, pad);
        Plan p = plan(x, w, ys, stride, pad);
        DeviceTensor y = device.allocate(TensorDesc.of(x.dtype(), ys));
        DeviceTensor ws = workspace(p);
        check(cudnnConvolutionForward(handle, one, p.x, CudaDevice.at(x.address), p.w, CudaDevice.at(w.address),
                p.conv, p.fwd, ws == null ? null : CudaDevice.at(ws.address), p.workspace, zero, p.y,
                CudaDevice.at(y.address)), "cudnnConvolutionForward");
        device.free(ws);
        return y;
    }

    /** The input's gradient. */
    DeviceTensor backwardData(DeviceTensor x, DeviceTensor w, DeviceTensor dy, int stride, int pad) {
        Plan p = plan(x, w, dy.shape(), stride, pad);
        DeviceTensor dx = device.allocate(x.desc());
        DeviceTensor ws = workspace(p);
        check(cudnnConvolutionBackwardData(handle, one, p.w, CudaDevice.at(w.address), p.y,
                CudaDevice.at(dy.address), p.conv, p.bwdData, ws == null ? null : CudaDevice.at(ws.address),
                p.workspace, zero, p.x, CudaDevice.at(dx.address)), "cudnnConvolutionBackwardData");
        device.free(ws);
        return dx;
    }

    /** The weight's gradient, in the input's type. */
    DeviceTensor backwardFilter(DeviceTensor x, DeviceTensor w, DeviceTensor dy, int stride, int pad) {
        Plan p = plan(x, w, dy.shape(), stride, pad);
        DeviceTensor dw = device.allocate(TensorDesc.of(x.dtype(), w.shape()));
        DeviceTensor ws = workspace(p);
        check(cudnnConvolutionBackwardFilter(handle, one, p.x, CudaDevice.at(x.address), p.y,
                CudaDevice.at(dy.address), p.conv, p.bwdFilter, ws == null ? null : CudaDevice.at(ws.address),
                p.workspace, zero, p.w, CudaDevice.at(dw.address)), "cudnnConvolutionBackwardFilter");
        device.free(ws);
        return dw;
    }

    private DeviceTensor workspace(Plan p) {
        return p.workspace == 0 ? null : device.allocate(TensorDesc.of(DType.F32, (p.workspace + 3) / 4));
    }

    private static void check(int status, String call) {
        if (status != CUDNN_STATUS_SUCCESS) {
            throw new CudaException(call + " failed: " + cudnnGetErrorString(status).getString());
        }
    }

    void close() {
        for (Plan p : plans.values()) {
            cudnnDestroyTensorDescriptor(p.x);
            cudnnDestroyTensorDescriptor(p.y);
            cudnnDestroyFilterDescriptor(p.w);
            cudnnDestroyConvolutionDescriptor(p.conv);
        }
        cudnnDestroy(handle);
    }
}
