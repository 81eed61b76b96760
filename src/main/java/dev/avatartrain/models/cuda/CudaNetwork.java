package dev.avatartrain.models.cuda;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

import dev.avatartrain.models.nn.DefinedNetwork;
import dev.avatartrain.models.nn.Definition;
import dev.avatartrain.models.nn.Network.LossAndGradients;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A network's one definition run on the GPU: its parameters copied to the device as float32 master weights (with
 * AdamW moments there once {@link #step} is used), each pass a {@link CudaOps} in the chosen compute type. The host
 * network stays the source of names and initialisation; {@link #copyToHost} writes the trained weights back into it.
 * Not yet run on a GPU.
 */
public final class CudaNetwork implements AutoCloseable {
    /** PyTorch's AdamW settings. */
    public record AdamW(double lr, double beta1, double beta2, double eps, double weightDecay) {}

    private final DefinedNetwork host;
    private final Definition definition;
    private final CudaContext cx;
    private final CudaDevice dev;
    private final DType compute;
    private final Map<String, DeviceTensor> masters = new LinkedHashMap<>();
    private final Map<String, DeviceTensor[]> moments = new HashMap<>();
    private long steps;

    public CudaNetwork(DefinedNetwork host, CudaContext cx, DType compute) {
        if (host.dataType() != DataType.FLOAT) {
            throw new IllegalArgumentException("the GPU backend takes a float32 network, not " + host.dataType());
        }
        this.host = host;
        this.definition = host.parts().definition();
        this.cx = cx;
        this.dev = cx.device();
        this.compute = compute;
        for (Map.Entry<String, INDArray> e : host.parameters().entrySet()) {
            INDArray a = e.getValue();
            masters.put(e.getKey(), dev.upload(a.toFloatVector(), DType.F32, a.shape()));
        }
    }

    private CudaOps pass(Map<String, INDArray> inputs, boolean forLoss, boolean trainable) {
        return new CudaOps(cx, host.parts().parameters(), masters, host.feed(inputs, forLoss), compute, trainable);
    }

    /** The named outputs (the forward output and/or losses) as float32 host arrays. */
    public Map<String, INDArray> forward(Map<String, INDArray> inputs, String... outputs) {
        boolean loss = false;
        for (String o : outputs) {
            loss |= definition.losses().contains(o);
        }
        try (CudaOps ops = pass(inputs, loss, false)) {
            CudaOps.Var out = definition.forward(ops);
            Map<String, INDArray> result = new HashMap<>();
            for (String o : outputs) {
                CudaOps.Var v = o.equals(definition.output()) ? out : definition.loss(ops, o, out);
                result.put(o, Nd4j.createFromArray(dev.download(v.value)).reshape(v.value.shape()));
            }
            return result;
        }
    }

    /** The loss and every parameter's gradient, copied to the host (what the tests compare with the CPU tape). */
    public LossAndGradients lossAndGradients(Map<String, INDArray> inputs, String loss) {
        Map<String, INDArray> grads = new LinkedHashMap<>();
        double value = withGradients(inputs, loss, (name, g) -> grads.put(name, g == null
                ? Nd4j.zeros(DataType.FLOAT, masters.get(name).shape())
                : Nd4j.createFromArray(dev.download(g)).reshape(g.shape())));
        return new LossAndGradients(value, grads);
    }

    /**
     * One training step on the device: loss, gradients, AdamW on the float32 masters (moments on the device),
     * returns the loss. {@code gradScale} multiplies the gradients first (clipping, loss-scale undo).
     */
    public double step(Map<String, INDArray> inputs, String loss, AdamW opt, double gradScale) {
        steps++;
        double c1 = 1 - Math.pow(opt.beta1(), steps);
        double c2 = 1 - Math.pow(opt.beta2(), steps);
        return withGradients(inputs, loss, (name, g) -> {
            if (g == null) {
                return;
            }
            DeviceTensor p = masters.get(name);
            DeviceTensor[] mv = moments.computeIfAbsent(name, n -> new DeviceTensor[] {dev.zeros(p.desc()),
                dev.zeros(p.desc())});
            dev.launchElements("adamw_step", p.elements(), p, g, mv[0], mv[1], null, p.elements(), (float) opt.lr(),
                    (float) opt.beta1(), (float) opt.beta2(), (float) opt.eps(), (float) opt.weightDecay(),
                    (float) (opt.lr() / c1), (float) (1 / Math.sqrt(c2)), (float) gradScale);
        });
    }

    private interface GradientUse {
        void accept(String name, DeviceTensor gradient);
    }

    private double withGradients(Map<String, INDArray> inputs, String loss, GradientUse use) {
        try (CudaOps ops = pass(inputs, true, true)) {
            CudaOps.Var value = definition.loss(ops, loss, definition.forward(ops));
            float l = dev.download(value.value)[0];
            ops.backward(value);
            Map<String, CudaOps.Var> used = ops.usedParameters();
            for (String name : masters.keySet()) {
                CudaOps.Var v = used.get(name);
                DeviceTensor g = v == null ? null : v.node.grad();
                use.accept(name, g);
                dev.free(g);
            }
            return l;
        }
    }

    /** Writes the device's master weights into the host network's parameter arrays. */
    public void copyToHost() {
        for (Map.Entry<String, DeviceTensor> e : masters.entrySet()) {
            INDArray a = host.parameters().get(e.getKey());
            a.assign(Nd4j.createFromArray(dev.download(e.getValue())).reshape(a.shape()));
        }
    }

    public CudaDevice device() {
        return dev;
    }

    @Override
    public void close() {
        masters.values().forEach(dev::free);
        moments.values().forEach(mv -> {
            dev.free(mv[0]);
            dev.free(mv[1]);
        });
        masters.clear();
        moments.clear();
    }
}
