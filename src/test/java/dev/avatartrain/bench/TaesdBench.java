package dev.avatartrain.bench;

import java.nio.file.Files;
import java.nio.file.Path;

import dev.avatartrain.models.taesd.Taesd;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * TAESD forward timing with the real TAEF2 weights the demo ships (configuration/demo/taef2): the encoder as
 * `encode` runs it (a batch of
 * images), the decoder as validation runs it. bench/taesd.sh runs this and the same in taesd.py. Args: batch size
 * iterations. Prints "java ..." lines, median ms after one warm-up.
 */
public final class TaesdBench {
    public static void main(String[] args) {
        int b = args.length > 0 ? Integer.parseInt(args[0]) : 12;
        int size = args.length > 1 ? Integer.parseInt(args[1]) : 256;
        int iters = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        Path weights = Path.of(System.getProperty("avatartrain.home", "."), "configuration", "demo", "taef2");
        if (!Files.isRegularFile(weights.resolve("taef2_encoder.pth"))) {
            System.out.println("java taesd: no " + weights.resolve("taef2_encoder.pth") + "; nothing to measure");
            return;
        }
        Taesd.Model enc = Taesd.loadEncoder(weights.resolve("taef2_encoder.pth"), DataType.FLOAT);
        Taesd.Model dec = Taesd.loadDecoder(weights.resolve("taef2_decoder.pth"), DataType.FLOAT);
        Nd4j.getRandom().setSeed(1);
        INDArray images = Nd4j.rand(DataType.FLOAT, b, 3, size, size);
        INDArray latents = enc.encode(images);
        System.out.printf("java taesd B=%d %dx%d latents %s%n", b, size, size, java.util.Arrays.toString(latents.shape()));
        System.out.printf("java taesd encoder forward %.0f ms%n", median(iters, () -> enc.encode(images)));
        System.out.printf("java taesd decoder forward %.0f ms%n", median(iters, () -> dec.decode(latents)));
    }

    static double median(int iters, Runnable r) {
        r.run();
        double[] t = new double[iters];
        for (int i = 0; i < iters; i++) {
            long s = System.nanoTime();
            r.run();
            t[i] = (System.nanoTime() - s) / 1e6;
        }
        java.util.Arrays.sort(t);
        return t[iters / 2];
    }
}
