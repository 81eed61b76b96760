package dev.avatartrain.models.cuda;

import static org.bytedeco.cuda.global.cudart.*;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUmemPoolHandle_st;
import org.bytedeco.cuda.cudart.CUmod_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.models.cuda.CudaLibraries.Library;

/**
 * One GPU as the backend uses it: a context on the device, one stream that every kernel, copy and library call is
 * ordered on, memory from the device's stream-ordered pool ({@code cudaMallocAsync}, kept cached between steps), and
 * the kernel families compiled by NVRTC for this GPU's architecture and loaded as modules. Needs compute capability
 * 8.0 or newer (bfloat16 tensor cores). The libraries are looked up by file before any native code is loaded, so a
 * missing one is a clear error ({@link CudaLibraries}). Not yet run on a GPU.
 */
public final class CudaDevice implements AutoCloseable {
    /** The oldest architecture this backend runs on (A100). */
    public static final int MIN_MAJOR = 8;

    private final int ordinal;
    private final String name;
    private final int major;
    private final int minor;
    private final int multiprocessors;
    private final CUstream_st stream = new CUstream_st();
    private final Map<KernelFamily, CUmod_st> modules = new EnumMap<>(KernelFamily.class);
    private final Map<String, CUfunc_st> functions = new HashMap<>();
    private final KernelCompiler compiler;
    /** Kernel arguments: one 8-byte slot per argument, and the array of pointers to the slots cuLaunchKernel takes. */
    private static final int MAX_ARGS = 16;
    private static final int ARG_SLOT = 8;
    private final BytePointer argValues = new BytePointer((long) MAX_ARGS * ARG_SLOT);
    private final PointerPointer<Pointer> argPointers = new PointerPointer<>(MAX_ARGS);
    private long inUse;
    private long peak;

    private CudaDevice(int ordinal) {
        preload(Library.DRIVER, Library.CUDART);
        this.ordinal = ordinal;
        int[] count = {0};
        int status = cudaGetDeviceCount(count);
        if (status != 0) {
            throw new BadInputException("No usable NVIDIA GPU: " + cudaGetErrorString(status).getString()
                    + " (CUDA 13 needs driver 580 or newer; nvidia-smi shows the driver's version).");
        }
        if (ordinal >= count[0]) {
            throw new BadInputException("GPU " + ordinal + " does not exist: this machine has " + count[0] + ".");
        }
        check(cudaSetDevice(ordinal), "cudaSetDevice");
        this.major = attribute(cudaDevAttrComputeCapabilityMajor);
        this.minor = attribute(cudaDevAttrComputeCapabilityMinor);
        this.multiprocessors = attribute(cudaDevAttrMultiProcessorCount);
        org.bytedeco.cuda.cudart.cudaDeviceProp props = new org.bytedeco.cuda.cudart.cudaDeviceProp();
        check(cudaGetDeviceProperties(props, ordinal), "cudaGetDeviceProperties");
        this.name = props.name().getString();
        if (major < MIN_MAJOR) {
            throw new BadInputException("GPU " + ordinal + " (" + name + ") has compute capability " + major + "."
                    + minor + "; the CUDA 13 backend needs 8.0 or newer (A100, A10, L4, L40S, H100, H200, B200).");
        }
        check(cudaStreamCreate(stream), "cudaStreamCreate");
        CUmemPoolHandle_st pool = new CUmemPoolHandle_st();
        check(cudaDeviceGetDefaultMemPool(pool, ordinal), "cudaDeviceGetDefaultMemPool");
        LongPointer keepAll = new LongPointer(1).put(-1L); // release threshold UINT64_MAX: freed memory stays pooled
        check(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, keepAll), "cudaMemPoolSetAttribute");
        this.compiler = KernelCompiler.locate();
        for (int i = 0; i < MAX_ARGS; i++) {
            argPointers.put(i, at(argValues.address() + (long) i * ARG_SLOT));
        }
    }

    /** GPU {@code ordinal}, checked and ready. */
    public static CudaDevice open(int ordinal) {
        return new CudaDevice(ordinal);
    }

    /**
     * Loads the libraries by their full path first: JavaCPP's wrappers then find them whatever LD_LIBRARY_PATH says.
     * cuDNN 9 is split into sub-libraries ({@code libcudnn_ops.so.9}, {@code libcudnn_cnn.so.9}, …) that JavaCPP's
     * wrapper links and cuDNN opens by name: all of them in {@code libcudnn.so.9}'s folder are loaded, each once the
     * ones it needs are (repeated passes, so their order need not be known here).
     */
    static void preload(Library... libs) {
        for (Library lib : libs) {
            Path path = CudaLibraries.find(lib);
            if (lib == Library.CUDNN) {
                loadAll(companions(path));
            }
            load(path);
        }
    }

    private static List<Path> companions(Path cudnn) {
        try (Stream<Path> s = Files.list(cudnn.getParent())) {
            return s.filter(p -> p.getFileName().toString().matches("libcudnn_.*\\.so\\.9")).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void loadAll(List<Path> paths) {
        List<Path> left = new ArrayList<>(paths);
        UnsatisfiedLinkError last = null;
        while (!left.isEmpty()) {
            int before = left.size();
            for (java.util.Iterator<Path> it = left.iterator(); it.hasNext(); ) {
                try {
                    System.load(it.next().toString());
                    it.remove();
                } catch (UnsatisfiedLinkError e) {
                    last = e; // may need one loaded later in this pass
                }
            }
            if (left.size() == before) {
                throw new BadInputException(left.get(0) + " could not be loaded (" + last.getMessage() + ").");
            }
        }
    }

    private static void load(Path path) {
        try {
            System.load(path.toString());
        } catch (UnsatisfiedLinkError e) {
            throw new BadInputException(path + " could not be loaded (" + e.getMessage()
                    + "); check that it matches the driver (CUDA 13 needs driver 580 or newer).");
        }
    }

    public String name() {
        return name;
    }

    /** e.g. {@code sm_90}. */
    public String arch() {
        return KernelCompiler.arch(major, minor);
    }

    public int multiprocessors() {
        return multiprocessors;
    }

    CUstream_st stream() {
        return stream;
    }

    /** Peak bytes this backend held from the pool since the last {@link #resetPeak}. */
    public long peakBytes() {
        return peak;
    }

    public void resetPeak() {
        peak = inUse;
    }

    private int attribute(int attr) {
        int[] v = {0};
        check(cudaDeviceGetAttribute(v, attr, ordinal), "cudaDeviceGetAttribute");
        return v[0];
    }

    // ------------------------------------------------------------------------------------------------------------
    // Memory

    /** Uninitialised memory for {@code desc}, from the pool, ordered on the stream. */
    public DeviceTensor allocate(TensorDesc desc) {
        long bytes = Workspace.align(Math.max(desc.bytes(), 1));
        Pointer p = new Pointer();
        check(cudaMallocAsync(p, bytes, stream), "cudaMallocAsync(" + bytes + " bytes)");
        inUse += bytes;
        peak = Math.max(peak, inUse);
        return new DeviceTensor(p.address(), desc, null);
    }

    public DeviceTensor zeros(TensorDesc desc) {
        DeviceTensor t = allocate(desc);
        check(cudaMemsetAsync(at(t.address), 0, desc.bytes(), stream), "cudaMemsetAsync");
        return t;
    }

    /**
     * Gives memory back to the pool (ordered on the stream: kernels queued before still read it safely); a view frees
     * its owner.
     */
    public void free(DeviceTensor t) {
        if (t == null) {
            return;
        }
        t = t.owner;
        if (!t.markFreed()) {
            throw new IllegalStateException("device tensor " + t + " freed twice");
        }
        check(cudaFreeAsync(at(t.address), stream), "cudaFreeAsync");
        inUse -= Workspace.align(Math.max(t.desc.bytes(), 1));
    }

    /** float32 values from the host into a new device tensor of {@code dtype} (rounded to bfloat16 on the host). */
    public DeviceTensor upload(float[] values, DType dtype, long... shape) {
        TensorDesc desc = TensorDesc.of(dtype, shape);
        if (desc.elements() != values.length) {
            throw new IllegalArgumentException(values.length + " values for " + desc);
        }
        DeviceTensor t = allocate(desc);
        ByteBuffer host = ByteBuffer.allocateDirect((int) desc.bytes()).order(ByteOrder.nativeOrder());
        for (float v : values) {
            if (dtype == DType.F32) {
                host.putFloat(v);
            } else {
                host.putShort(BFloat16.fromFloat(v));
            }
        }
        host.flip();
        check(cudaMemcpyAsync(at(t.address), new Pointer(host), desc.bytes(), cudaMemcpyHostToDevice, stream),
                "cudaMemcpyAsync(host to device)");
        synchronize(); // the host buffer may go once the copy is done
        return t;
    }

    /** The tensor's values as float32 on the host (waits for the stream). */
    public float[] download(DeviceTensor t) {
        ByteBuffer host = ByteBuffer.allocateDirect((int) t.desc.bytes()).order(ByteOrder.nativeOrder());
        check(cudaMemcpyAsync(new Pointer(host), at(t.address), t.desc.bytes(), cudaMemcpyDeviceToHost, stream),
                "cudaMemcpyAsync(device to host)");
        synchronize();
        float[] out = new float[(int) t.elements()];
        if (t.dtype() == DType.F32) {
            FloatBuffer f = host.asFloatBuffer();
            f.get(out);
        } else {
            for (int i = 0; i < out.length; i++) {
                out[i] = BFloat16.toFloat(host.getShort(2 * i));
            }
        }
        return out;
    }

    public void copy(DeviceTensor from, DeviceTensor to) {
        if (from.desc.bytes() != to.desc.bytes()) {
            throw new IllegalArgumentException("copy " + from + " to " + to);
        }
        check(cudaMemcpyAsync(at(to.address), at(from.address), from.desc.bytes(), cudaMemcpyDeviceToDevice, stream),
                "cudaMemcpyAsync(device to device)");
    }

    public void synchronize() {
        check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    }

    // ------------------------------------------------------------------------------------------------------------
    // Kernels

    /**
     * Launches kernel {@code name} with {@code geometry}; {@code args} are {@link DeviceTensor}s (their address; null for
     * a null pointer), {@link Integer}, {@link Long} and {@link Float}, in the kernel's parameter order.
     */
    public void launch(String name, LaunchGeometry g, Object... args) {
        CUfunc_st f = function(name);
        if (args.length > MAX_ARGS) {
            throw new IllegalArgumentException(name + ": more than " + MAX_ARGS + " kernel arguments");
        }
        for (int i = 0; i < args.length; i++) {
            Object a = args[i];
            long at = (long) i * ARG_SLOT;
            if (a == null || a instanceof DeviceTensor) {
                argValues.putLong(at, a == null ? 0L : ((DeviceTensor) a).address);
            } else if (a instanceof Integer v) {
                argValues.putInt(at, v);
            } else if (a instanceof Long v) {
                argValues.putLong(at, v);
            } else if (a instanceof Float v) {
                argValues.putFloat(at, v);
            } else {
                throw new IllegalArgumentException("kernel argument " + i + " of " + name + ": " + a.getClass());
            }
        }
        // cuLaunchKernel copies the values it is pointed at, so the same buffers serve every launch
        checkDriver(cuLaunchKernel(f, g.gridX(), g.gridY(), g.gridZ(), g.blockX(), g.blockY(), g.blockZ(), 0, stream,
                argPointers, (PointerPointer<?>) null), "cuLaunchKernel(" + name + ")");
    }

    /** Launches a grid-stride kernel over {@code n} elements. */
    public void launchElements(String name, long n, Object... args) {
        launch(name, LaunchGeometry.gridStride(n, LaunchGeometry.maxBlocks(multiprocessors)), args);
    }

    private CUfunc_st function(String name) {
        CUfunc_st f = functions.get(name);
        if (f != null) {
            return f;
        }
        for (KernelFamily family : KernelFamily.values()) {
            if (family.kernels().contains(name)) {
                CUmod_st module = modules.computeIfAbsent(family, fam -> {
                    byte[] cubin = compiler.compile(fam, arch());
                    CUmod_st m = new CUmod_st();
                    checkDriver(cuModuleLoadData(m, new BytePointer(cubin)), "cuModuleLoadData(" + fam.fileName() + ")");
                    return m;
                });
                f = new CUfunc_st();
                checkDriver(cuModuleGetFunction(f, module, name), "cuModuleGetFunction(" + name + ")");
                functions.put(name, f);
                return f;
            }
        }
        throw new IllegalArgumentException("no kernel " + name + " in " + java.util.Arrays.toString(
                KernelFamily.values()));
    }

    // ------------------------------------------------------------------------------------------------------------

    /** A JavaCPP pointer at a raw device address (for library calls). */
    static Pointer at(long address) {
        return new Address(address);
    }

    private static final class Address extends Pointer {
        Address(long a) {
            this.address = a;
        }
    }

    /** Fails with the runtime's description unless {@code status} is success (cudaSuccess / CUDA_SUCCESS are 0). */
    static void check(int status, String call) {
        if (status != 0) {
            BytePointer s = cudaGetErrorString(status);
            throw new CudaException(call + " failed: " + (s == null ? "error " + status : s.getString()));
        }
    }

    /** Like {@link #check} for the driver API's results (CUresult). */
    static void checkDriver(int status, String call) {
        if (status != 0) {
            BytePointer s = new BytePointer((Pointer) null);
            cuGetErrorString(status, s);
            throw new CudaException(call + " failed: " + (s.isNull() ? "CUresult " + status : s.getString()));
        }
    }

    @Override
    public void close() {
        synchronize();
        for (CUmod_st m : modules.values()) {
            cuModuleUnload(m);
        }
        cudaStreamDestroy(stream);
    }
}
