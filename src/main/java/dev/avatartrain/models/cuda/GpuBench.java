package dev.avatartrain.models.cuda;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.models.adapter.AudioProjConfig;
import dev.avatartrain.models.adapter.AudioProjModel;
import dev.avatartrain.models.adapter.AudioWindows;
import dev.avatartrain.models.nn.Backend;
import dev.avatartrain.models.nn.DefinedNetwork;
import dev.avatartrain.models.nn.Network.LossAndGradients;
import dev.avatartrain.models.unet.UNet;
import dev.avatartrain.models.unet.UNetConfig;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The GPU backend's check and benchmark on one GPU (what {@code bench/gpu.sh} runs):
 * <ul>
 *   <li>{@code check [unet.json]}: compiles the kernels for this GPU, then the UNet (default: configuration/unet/tiny.json,
 *       B=2, 32×32) and a small adapter, loss and every gradient on the GPU against the CPU tape, float32 and bfloat16;
 *       prints the largest relative error per network and type, and fails past the GPU tests' tolerances;</li>
 *   <li>{@code unet <unet.json> <batch> <fp32|bf16> [steps]}: the UNet training step (forward, backward, AdamW on the
 *       device) at 32×32 latents with 50 audio tokens;</li>
 *   <li>{@code adapter <batch> <fp32|bf16> [steps]}: InfiniteTalk's adapter step at T=81.</li>
 * </ul>
 * Timings print as {@code gpu <what> B=<b> <type>: <ms> ms/step, <n> samples/s, peak <GiB> GiB} (median over the
 * steps after one warm-up; peak = the backend's pool high-water mark). Not yet run on a GPU.
 */
public final class GpuBench {
    private static final String LOSS = "loss";

    private GpuBench() {
    }

    public static void main(String[] args) {
        try (CudaContext cx = new CudaContext(0)) {
            System.out.println("gpu " + cx.device().name() + " (" + cx.device().arch() + ")");
            String mode = args.length > 0 ? args[0] : "check";
            switch (mode) {
                case "check" -> check(cx, args.length > 1 ? args[1] : "configuration/unet/tiny.json");
                case "unet" -> unet(cx, args[1], Integer.parseInt(args[2]), type(args[3]), steps(args, 4));
                case "adapter" -> adapter(cx, Integer.parseInt(args[1]), type(args[2]), steps(args, 3));
                default -> throw new BadInputException("GpuBench: unknown mode \"" + mode
                        + "\"; use check, unet or adapter.");
            }
        } catch (BadInputException | CudaException | KernelCompileException e) {
            System.err.println(e.getMessage());
            System.exit(1);
        }
    }

    private static DType type(String s) {
        return switch (s) {
            case "fp32" -> DType.F32;
            case "bf16" -> DType.BF16;
            default -> throw new BadInputException("GpuBench: type \"" + s + "\" is not fp32 or bf16.");
        };
    }

    private static int steps(String[] args, int at) {
        return args.length > at ? Integer.parseInt(args[at]) : 10;
    }

    private static Map<String, INDArray> unetInputs(UNet net, int b) {
        UNetConfig c = net.config();
        Nd4j.getRandom().setSeed(3);
        Map<String, INDArray> in = new HashMap<>(net.placeholders(Nd4j.randn(DataType.FLOAT, b, c.inChannels(), 32, 32),
                Nd4j.createFromArray(new float[b]).addi(500), Nd4j.randn(DataType.FLOAT, b, 50,
                        c.crossAttentionDim())));
        in.put(UNet.TARGET, Nd4j.randn(DataType.FLOAT, b, c.outChannels(), 32, 32));
        return in;
    }

    private static AudioProjModel adapterModel(AudioProjConfig c) {
        return AudioProjModel.build(c, DataType.FLOAT, 1, Backend.TAPE);
    }

    private static Map<String, INDArray> adapterInputs(AudioProjModel net, AudioProjConfig c, int b, int frames) {
        Nd4j.getRandom().setSeed(1);
        List<INDArray> audio = new ArrayList<>();
        List<INDArray> target = new ArrayList<>();
        for (int i = 0; i < b; i++) {
            audio.add(Nd4j.randn(DataType.FLOAT, frames, c.blocks(), c.channels()));
            target.add(Nd4j.randn(DataType.FLOAT, AudioWindows.outputFrames(frames, c.vaeScale()), c.contextTokens(),
                    c.outputDim()));
        }
        return net.placeholders(AudioWindows.batch(audio, target, null, c, DataType.FLOAT));
    }

    private static void check(CudaContext cx, String unetConfig) {
        System.out.println("gpu kernels: " + KernelCheck.lines(KernelCheck.compileAll(List.of(cx.device().arch()))));
        UNet unet = UNet.build(UNetConfig.read(Path.of(unetConfig)), DataType.FLOAT, 1, Backend.TAPE);
        AudioProjConfig small = AudioProjConfig.defaults(); // the real adapter; B=1, 9 frames keeps the CPU side short
        AudioProjModel adapter = adapterModel(small);
        boolean ok = true;
        for (DType t : DType.values()) {
            ok &= compare(cx, "unet", unet, unetInputs(unet, 2), UNet.LOSS, t);
            ok &= compare(cx, "adapter", adapter, adapterInputs(adapter, small, 1, 9), AudioProjModel.LOSS, t);
        }
        if (!ok) {
            throw new CudaException("the GPU's gradients differ from the CPU's beyond the tolerances above");
        }
    }

    /** Prints the loss and the largest relative gradient error of the GPU against the CPU tape; true if within. */
    private static boolean compare(CudaContext cx, String what, DefinedNetwork net, Map<String, INDArray> in,
                                   String loss, DType t) {
        LossAndGradients cpu = net.lossAndGradients(in, loss);
        LossAndGradients gpu;
        try (CudaNetwork cuda = new CudaNetwork(net, cx, t)) {
            gpu = cuda.lossAndGradients(in, loss);
        }
        double worst = 0;
        String where = "";
        for (String n : cpu.gradients().keySet()) {
            INDArray c = cpu.gradients().get(n);
            double err = c.sub(gpu.gradients().get(n)).amaxNumber().doubleValue()
                    / Math.max(1e-6, c.amaxNumber().doubleValue());
            if (err > worst) {
                worst = err;
                where = n;
            }
        }
        double tol = t == DType.F32 ? 1e-3 : 5e-2;
        boolean ok = worst <= tol && Math.abs(cpu.loss() - gpu.loss()) <= tol * Math.max(1, Math.abs(cpu.loss()));
        System.out.printf(Locale.ROOT, "gpu check %s %s: loss cpu %.6f gpu %.6f, worst gradient error %.2e (%s), %s%n",
                what, t.suffix, cpu.loss(), gpu.loss(), worst, where, ok ? "ok" : "FAILED (tolerance " + tol + ")");
        return ok;
    }

    private static void unet(CudaContext cx, String config, int b, DType t, int steps) {
        UNet net = UNet.build(UNetConfig.read(Path.of(config)), DataType.FLOAT, 1, Backend.TAPE);
        time(cx, "unet " + config, net, unetInputs(net, b), UNet.LOSS, b, t, steps);
    }

    private static void adapter(CudaContext cx, int b, DType t, int steps) {
        AudioProjConfig c = AudioProjConfig.defaults();
        AudioProjModel net = adapterModel(c);
        time(cx, "adapter", net, adapterInputs(net, c, b, 81), AudioProjModel.LOSS, b, t, steps);
    }

    private static void time(CudaContext cx, String what, DefinedNetwork net, Map<String, INDArray> in, String loss,
                             int b, DType t, int steps) {
        CudaNetwork.AdamW opt = new CudaNetwork.AdamW(1e-4, 0.9, 0.999, 1e-8, 1e-2);
        try (CudaNetwork cuda = new CudaNetwork(net, cx, t)) {
            List<Double> ms = new ArrayList<>();
            for (int s = 0; s <= steps; s++) {
                cuda.device().synchronize();
                long t0 = System.nanoTime();
                cuda.step(in, loss, opt, 1.0); // reads the loss back: the step has finished on the GPU
                cuda.device().synchronize();
                if (s > 0) {
                    ms.add((System.nanoTime() - t0) / 1e6);
                }
            }
            ms.sort(null);
            double median = ms.get(ms.size() / 2);
            System.out.printf(Locale.ROOT, "gpu %s B=%d %s: %.1f ms/step, %.1f samples/s, peak %.2f GiB%n", what, b,
                    t.suffix, median, b * 1000 / median, cuda.device().peakBytes() / (double) (1L << 30));
        }
    }
}
