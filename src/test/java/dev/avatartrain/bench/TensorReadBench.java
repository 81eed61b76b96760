package dev.avatartrain.bench;

import dev.avatartrain.tensors.TensorFiles;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Reads tensor files into ND4J arrays and prints the best wall time of a few runs:
 * {@code bench/java.sh TensorReadBench file [file...]}. Files are made by bench/tensors.sh.
 */
public final class TensorReadBench {
    public static void main(String[] args) throws Exception {
        int runs = Integer.getInteger("runs", 3);
        for (String a : args) {
            Path p = Path.of(a);
            double best = Double.MAX_VALUE;
            double sum = 0;
            for (int r = 0; r < runs; r++) {
                long t0 = System.nanoTime();
                Map<String, INDArray> m = TensorFiles.read(p, DataType.FLOAT);
                double s = (System.nanoTime() - t0) / 1e9;
                for (INDArray x : m.values()) sum += x.getDouble(0);
                best = Math.min(best, s);
                if (Boolean.getBoolean("verbose")) System.out.printf("  run %d: %.3f s%n", r, s);
                m.clear();
                System.gc();
            }
            System.out.printf("java-nd4j %s %.1f MB best %.3f s (%.0f MB/s) [checksum %.3f]%n",
                    p.getFileName(), Files.size(p) / 1e6, best, Files.size(p) / 1e6 / best, sum);
        }
    }
}
