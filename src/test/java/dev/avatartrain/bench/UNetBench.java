package dev.avatartrain.bench;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import dev.avatartrain.models.kernels.Profile;
import dev.avatartrain.models.nn.Backend;
import dev.avatartrain.models.nn.Network;
import dev.avatartrain.models.unet.UNet;
import dev.avatartrain.models.unet.UNetConfig;
import dev.avatartrain.tensors.NativeMemory;
import dev.avatartrain.train.optim.AdamW;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.autodiff.listeners.At;
import org.nd4j.autodiff.listeners.BaseListener;
import org.nd4j.autodiff.listeners.Operation;
import org.nd4j.autodiff.samediff.SameDiff;
import org.nd4j.autodiff.samediff.internal.SameDiffOp;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.OpContext;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;

/**
 * UNet training step (forward + backward + AdamW) timing: {@code bench/unet.sh} runs this and bench/unet.py
 * (the real diffusers UNet in PyTorch) on the same configs. Args: {@code tiny|bench batch size seq steps
 * [profile]}. "default" is configuration/unet/config.json; "bench" is block_out_channels [64,128,256], 2 layers/block, cross-attention dim 384, 8 heads.
 * Prints "java <config> ..." lines; with "profile" also the time per layer type of the last step (hand-written
 * path, models.kernels.Profile) or per SameDiff op type ({@code -Dbench.graph}). {@code BENCH_CHECKPOINTING=1} turns
 * gradient checkpointing on (as bench/unet.py does with diffusers'). The peak resident memory is sampled every 20 ms.
 */
public final class UNetBench {
    public static void main(String[] args) {
        String which = args.length > 0 ? args[0] : "bench";
        int b = args.length > 1 ? Integer.parseInt(args[1]) : 12;
        int hw = args.length > 2 ? Integer.parseInt(args[2]) : 32;
        int seq = args.length > 3 ? Integer.parseInt(args[3]) : 50;
        int steps = args.length > 4 ? Integer.parseInt(args[4]) : 3;
        boolean profile = args.length > 5 && args[5].equals("profile");
        if (profile) {
            System.setProperty("avatartrain.kernels.profile", "true"); // before the kernels load
        }
        UNetConfig cfg = config(which);
        boolean graph = System.getProperty("bench.graph") != null; // -Dbench.graph: the SameDiff graph backend
        UNet net = UNet.build(cfg, DataType.FLOAT, 1, graph ? Backend.GRAPH : Backend.TAPE);
        boolean checkpointing = !System.getenv().getOrDefault("BENCH_CHECKPOINTING", "").matches("|0");
        net.gradientCheckpointing(checkpointing);
        PeakSampler sampler = new PeakSampler();
        long nParams = net.parameters().values().stream().mapToLong(INDArray::length).sum();
        Nd4j.getRandom().setSeed(3);
        Map<String, INDArray> ph = new HashMap<>(net.placeholders(Nd4j.randn(DataType.FLOAT, b, cfg.inChannels(), hw, hw),
                Nd4j.createFromArray(new float[b]).addi(500), Nd4j.randn(DataType.FLOAT, b, seq, cfg.crossAttentionDim())));
        ph.put(UNet.TARGET, Nd4j.randn(DataType.FLOAT, b, cfg.outChannels(), hw, hw));

        AdamW adamw = new AdamW(0.9, 0.999, 1e-8, 1e-2); // the training engine's optimizer
        System.out.printf("java %s params=%d B=%d %dx%d S=%d path=%s threads=%s checkpointing=%s%n", which, nParams, b,
                hw, hw, seq, graph ? "samediff-graph" : "tape", System.getenv().getOrDefault("OMP_NUM_THREADS", "default"),
                checkpointing ? "on" : "off");

        List<Double> fwd = new ArrayList<>(), bwd = new ArrayList<>(), upd = new ArrayList<>();
        for (int s = 0; s < steps + 1; s++) {
            NativeMemory.releaseGarbageIfHigh(); // as the training engine does before every micro-batch
            Profile.reset(); // so that the profile printed below is the last step's
            long t0 = System.nanoTime();
            net.forward(ph, UNet.LOSS);
            long t1 = System.nanoTime();
            Network.LossAndGradients r = net.lossAndGradients(ph, UNet.LOSS); // what StepRunner calls
            long t2 = System.nanoTime();
            adamw.step(net.parameters(), r.gradients(), 1e-4);
            net.recycle(r.gradients()); // as the engine's StepRunner does
            long t3 = System.nanoTime();
            if (s > 0) { // first step is warm-up
                fwd.add((t1 - t0) / 1e6);
                bwd.add((t2 - t1) / 1e6);
                upd.add((t3 - t2) / 1e6);
            }
            System.out.printf("java %s step %d: forward %.0f ms, forward+backward %.0f ms, AdamW %.0f ms, loss %.5f,"
                    + " resident %.1f GB (peak %.1f GB)%n", which, s, (t1 - t0) / 1e6, (t2 - t1) / 1e6, (t3 - t2) / 1e6,
                    r.loss(), Pointer.physicalBytes() / 1e9, sampler.peakGb());
        }
        double fb = median(bwd), u = median(upd);
        System.out.printf("java %s median: forward %.0f ms, training step (forward+backward+AdamW) %.0f ms%n", which,
                median(fwd), fb + u);
        if (profile && !graph) { // the tape's kernels time themselves (Profile)
            double total = Profile.snapshot().values().stream().mapToDouble(v -> v[0]).sum();
            System.out.printf("java %s profile of the last step (forward, then forward+backward): %.0f ms in layers%n",
                    which, total);
            Profile.snapshot().entrySet().stream().sorted((x, y) -> Double.compare(y.getValue()[0], x.getValue()[0]))
                    .forEach(e -> System.out.printf("java %s   %-22s %8.0f ms %6.0f calls%n", which, e.getKey(),
                            e.getValue()[0], e.getValue()[1]));
        }
    }

    /** The process's peak resident memory, sampled every 20 ms on a daemon thread. */
    static final class PeakSampler {
        private volatile long peak;

        PeakSampler() {
            Thread t = new Thread(() -> {
                while (true) {
                    peak = Math.max(peak, Pointer.physicalBytes());
                    try {
                        Thread.sleep(20);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "peak-rss");
            t.setDaemon(true);
            t.start();
        }

        double peakGb() {
            return Math.max(peak, Pointer.physicalBytes()) / 1e9;
        }
    }

    static UNetConfig config(String which) {
        if (which.equals("tiny")) {
            return UNetConfig.read(Path.of("configuration/unet/tiny.json"));
        }
        if (which.equals("default")) {
            return UNetConfig.read(Path.of("configuration/unet/config.json"));
        }
        return UNetConfig.parse("{\"in_channels\": 8, \"out_channels\": 4, \"block_out_channels\": [64, 128, 256],"
                + " \"layers_per_block\": 2, \"down_block_types\": [\"CrossAttnDownBlock2D\", \"CrossAttnDownBlock2D\","
                + " \"DownBlock2D\"], \"up_block_types\": [\"UpBlock2D\", \"CrossAttnUpBlock2D\", \"CrossAttnUpBlock2D\"],"
                + " \"cross_attention_dim\": 384, \"attention_head_dim\": 8, \"norm_num_groups\": 32}", "bench config");
    }

    static double median(List<Double> v) {
        List<Double> s = new ArrayList<>(v);
        s.sort(null);
        return s.isEmpty() ? Double.NaN : s.get(s.size() / 2);
    }

    /** Wall time per op type (forward and backward ops both), from SameDiff's op callbacks. */
    static final class OpTimer extends BaseListener {
        final Map<String, double[]> byOp = new TreeMap<>();
        final Map<String, double[]> gapBefore = new TreeMap<>();
        long start;
        long lastEnd;

        @Override
        public boolean isActive(Operation operation) {
            return true;
        }

        @Override
        public void preOpExecution(SameDiff sd, At at, SameDiffOp op, OpContext ctx) {
            start = System.nanoTime();
            if (lastEnd != 0) {
                double[] g = gapBefore.computeIfAbsent(op.getOp().opName(), k -> new double[2]);
                g[0] += (start - lastEnd) / 1e6;
                g[1]++;
            }
        }

        @Override
        public void opExecution(SameDiff sd, At at, MultiDataSet batch, SameDiffOp op, OpContext ctx,
                                INDArray[] outputs) {
            double[] v = byOp.computeIfAbsent(op.getOp().opName(), k -> new double[2]);
            v[0] += (System.nanoTime() - start) / 1e6;
            v[1]++;
            lastEnd = System.nanoTime();
        }

        void print(String which) {
            double total = byOp.values().stream().mapToDouble(v -> v[0]).sum();
            System.out.printf("java %s profile: %.0f ms in ops, by op type:%n", which, total);
            byOp.entrySet().stream().sorted((a, c) -> Double.compare(c.getValue()[0], a.getValue()[0])).limit(25)
                    .forEach(e -> System.out.printf("java %s   %-28s %8.0f ms %6.0f calls%n", which, e.getKey(),
                            e.getValue()[0], e.getValue()[1]));
            double gaps = gapBefore.values().stream().mapToDouble(v -> v[0]).sum();
            System.out.printf("java %s profile: %.0f ms between ops, by the op that follows:%n", which, gaps);
            gapBefore.entrySet().stream().sorted((a, c) -> Double.compare(c.getValue()[0], a.getValue()[0])).limit(12)
                    .forEach(e -> System.out.printf("java %s   gap before %-17s %8.0f ms %6.0f calls%n", which,
                            e.getKey(), e.getValue()[0], e.getValue()[1]));
        }
    }
}
