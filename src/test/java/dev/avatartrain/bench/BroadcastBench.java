package dev.avatartrain.bench;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The libnd4j kernels SameDiff runs for GroupNorm's pieces, on the ResNet block's 12x64x32x32 activation, called
 * directly (no graph): which broadcast shapes and reductions are fast. {@code bench/java.sh BroadcastBench}.
 */
public final class BroadcastBench {
    public static void main(String[] args) {
        INDArray x = Nd4j.randn(DataType.FLOAT, 12, 64, 32, 32);
        INDArray eps = Nd4j.randn(DataType.FLOAT, 12, 64, 32, 32);
        INDArray out = x.ulike();
        INDArray dx = x.ulike();
        run("multiply same shape", "multiply", new INDArray[] {x, eps}, out);
        run("multiply_bp same shape", DynamicCustomOp.builder("multiply_bp").addInputs(x, eps, eps).addOutputs(dx, out).build());
        run("broadcast_to [B,C,1,1]->NCHW", DynamicCustomOp.builder("broadcast_to").addInputs(Nd4j.rand(DataType.FLOAT, 12, 64, 1, 1), Nd4j.createFromArray(12L, 64L, 32L, 32L)).addOutputs(out).build());
        run("tile [B,C,1,1]->NCHW", DynamicCustomOp.builder("tile").addInputs(Nd4j.rand(DataType.FLOAT, 12, 64, 1, 1)).addOutputs(out).addIntegerArguments(1, 1, 32, 32).build());
        run("multiply by scalar []", "multiply", new INDArray[] {x, Nd4j.scalar(2f)}, out);
        cases("NCHW * [1,C,1,1]", x, Nd4j.rand(DataType.FLOAT, 1, 64, 1, 1), eps, out, dx);
        cases("NCHW * [B,C,1,1]", x, Nd4j.rand(DataType.FLOAT, 12, 64, 1, 1), eps, out, dx);
        cases("[B,C,HW] * [1,C,1]", x.reshape(12, 64, 1024), Nd4j.rand(DataType.FLOAT, 1, 64, 1), eps.reshape(12, 64, 1024), out.reshape(12, 64, 1024), dx.reshape(12, 64, 1024));
        cases("[B*C,HW] * [B*C,1]", x.reshape(768, 1024), Nd4j.rand(DataType.FLOAT, 768, 1), eps.reshape(768, 1024), out.reshape(768, 1024), dx.reshape(768, 1024));
        cases("[B,G,N] * [B,G,1]", x.reshape(12, 32, 2048), Nd4j.rand(DataType.FLOAT, 12, 32, 1), eps.reshape(12, 32, 2048), out.reshape(12, 32, 2048), dx.reshape(12, 32, 2048));
        cases("[B*G,N] * [B*G,1]", x.reshape(384, 2048), Nd4j.rand(DataType.FLOAT, 384, 1), eps.reshape(384, 2048), out.reshape(384, 2048), dx.reshape(384, 2048));
        cases("[HW,B*C]... [N,B*G]*[1,B*G]", x.reshape(2048, 384), Nd4j.rand(DataType.FLOAT, 1, 384), eps.reshape(2048, 384), out.reshape(2048, 384), dx.reshape(2048, 384));
        run("reduce_mean_bp [B*G,N] keepdims", DynamicCustomOp.builder("reduce_mean_bp").addInputs(x.reshape(384, 2048), Nd4j.rand(DataType.FLOAT, 384, 1)).addOutputs(dx.reshape(384, 2048)).addBooleanArguments(true).addIntegerArguments(1).build());
        run("reduce_sum_bp [B*G,N] keepdims", DynamicCustomOp.builder("reduce_sum_bp").addInputs(x.reshape(384, 2048), Nd4j.rand(DataType.FLOAT, 384, 1)).addOutputs(dx.reshape(384, 2048)).addBooleanArguments(true).addIntegerArguments(1).build());
        if (args.length > 0) return;
        INDArray bias = Nd4j.rand(DataType.FLOAT, 64);
        run("biasadd NCHW", DynamicCustomOp.builder("biasadd").addInputs(x, bias).addOutputs(out).addBooleanArguments(true).build());
        run("biasadd_bp NCHW", DynamicCustomOp.builder("biasadd_bp").addInputs(x, bias, eps).addOutputs(dx, bias.ulike()).addBooleanArguments(true).build());
        run("reduce_sum [B*G,N] last dim", DynamicCustomOp.builder("reduce_sum").addInputs(x.reshape(384, 2048)).addOutputs(Nd4j.create(DataType.FLOAT, 384)).addIntegerArguments(1).build());
        run("reduce_sum NCHW dims 0,2,3", DynamicCustomOp.builder("reduce_sum").addInputs(x).addOutputs(Nd4j.create(DataType.FLOAT, 64)).addIntegerArguments(0, 2, 3).build());
        run("reduce_mean [B*G,N] last dim", DynamicCustomOp.builder("reduce_mean").addInputs(x.reshape(384, 2048)).addOutputs(Nd4j.create(DataType.FLOAT, 384)).addIntegerArguments(1).build());
        run("moments [B*G,N] last dim", DynamicCustomOp.builder("moments").addInputs(x.reshape(384, 2048)).addOutputs(Nd4j.create(DataType.FLOAT, 384), Nd4j.create(DataType.FLOAT, 384)).addIntegerArguments(1).build());
        run("standardize [B*G,N] last dim", DynamicCustomOp.builder("standardize").addInputs(x.reshape(384, 2048)).addOutputs(out.reshape(384, 2048)).addIntegerArguments(1).build());
        run("standardize_bp [B*G,N]", DynamicCustomOp.builder("standardize_bp").addInputs(x.reshape(384, 2048), eps.reshape(384, 2048)).addOutputs(dx.reshape(384, 2048)).addIntegerArguments(1).build());
        INDArray m = Nd4j.create(DataType.FLOAT, 384), v = Nd4j.ones(DataType.FLOAT, 384), g1 = Nd4j.ones(DataType.FLOAT, 384), b0 = Nd4j.zeros(DataType.FLOAT, 384);
        run("batchnorm [1,B*G,N] axis 1", DynamicCustomOp.builder("batchnorm").addInputs(x.reshape(1, 384, 2048), m, v, g1, b0).addOutputs(out.reshape(1, 384, 2048)).addIntegerArguments(1, 1, 1).addFloatingPointArguments(1e-5).build());
        run("batchnorm_bp [1,B*G,N] axis 1", DynamicCustomOp.builder("batchnorm_bp").addInputs(x.reshape(1, 384, 2048), m, v, g1, b0, eps.reshape(1, 384, 2048)).addOutputs(dx.reshape(1, 384, 2048), m.ulike(), v.ulike(), g1.ulike(), b0.ulike()).addIntegerArguments(1, 1, 1).addFloatingPointArguments(1e-5).build());
        INDArray mc = Nd4j.create(DataType.FLOAT, 64), vc = Nd4j.ones(DataType.FLOAT, 64), gc = Nd4j.rand(DataType.FLOAT, 64);
        run("batchnorm NCHW axis 1", DynamicCustomOp.builder("batchnorm").addInputs(x, mc, vc, gc, bias).addOutputs(out).addIntegerArguments(1, 1, 1).addFloatingPointArguments(1e-5).build());
        run("batchnorm_bp NCHW axis 1", DynamicCustomOp.builder("batchnorm_bp").addInputs(x, mc, vc, gc, bias, eps).addOutputs(dx, mc.ulike(), vc.ulike(), gc.ulike(), bias.ulike()).addIntegerArguments(1, 1, 1).addFloatingPointArguments(1e-5).build());
        run("swish", DynamicCustomOp.builder("swish").addInputs(x).addOutputs(out).build());
        run("x.mul(y) INDArray same shape (alloc)", () -> x.mul(eps));
        run("x.muli(y) same shape", () -> out.assign(x).muli(eps));
    }

    static void cases(String name, INDArray x, INDArray y, INDArray eps, INDArray out, INDArray dx) {
        run(name + " multiply", "multiply", new INDArray[] {x, y}, out);
        run(name + " subtract", "subtract", new INDArray[] {x, y}, out);
        run(name + " add", "add", new INDArray[] {x, y}, out);
        run(name + " add_bp", DynamicCustomOp.builder("add_bp").addInputs(x, y, eps).addOutputs(dx, y.ulike()).build());
        run(name + " subtract_bp", DynamicCustomOp.builder("subtract_bp").addInputs(x, y, eps).addOutputs(dx, y.ulike()).build());
        run(name + " multiply_bp", DynamicCustomOp.builder("multiply_bp").addInputs(x, y, eps).addOutputs(dx, y.ulike()).build());
    }

    static void run(String name, String op, INDArray[] in, INDArray out) {
        run(name, DynamicCustomOp.builder(op).addInputs(in).addOutputs(out).build());
    }

    static void run(String name, DynamicCustomOp op) {
        run(name, () -> Nd4j.exec(op));
    }

    static void run(String name, Runnable r) {
        try {
            LayersBench.report(name, () -> {
                r.run();
                return null;
            });
        } catch (RuntimeException e) {
            System.out.printf("java  %-28s failed: %s%n", name, e.getMessage());
        }
    }
}
