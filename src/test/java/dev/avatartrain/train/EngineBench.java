package dev.avatartrain.train;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

import dev.avatartrain.models.nn.Network;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.train.optim.AdamW;
import dev.avatartrain.train.unet.UNetTask;

/**
 * Averaging overhead of the engine ({@code bench/engine.sh}): for averaging_frequency k in {1, 4, 16}, the time of a
 * Spark round of k steps on {@code local[P]} with P shards, against the same k steps run directly by
 * {@link StepRunner} on one network (no Spark, no broadcast, no averaging), per partition. Overhead = 1 − direct/round.
 * Lives in the test tree beside the engine's package-private parts. Args: {@code partitions batch rounds}.
 */
public final class EngineBench {
    public static void main(String[] args) throws Exception {
        int partitions = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 4;
        int rounds = args.length > 2 ? Integer.parseInt(args[2]) : 3;
        Path dir = Files.createTempDirectory("engine-bench");
        Storage out = TinyLatents.write(dir, 2 * partitions, 20, 1);
        UNetTask task = TinyLatents.task(out, batch);
        ParameterAveraging.Settings s = TinyLatents.settings(1, "constant");
        List<List<String>> shards = new java.util.ArrayList<>();
        for (int p = 0; p < partitions; p++) shards.add(List.of("clip-" + (2 * p), "clip-" + (2 * p + 1)));
        SparkSession spark = SparkSession.builder().master("local[" + partitions + "]").appName("EngineBench")
                .config("spark.ui.enabled", "false").getOrCreate();
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        Network init = task.buildNetwork();
        long nParams = init.parameters().values().stream().mapToLong(a -> a.length()).sum();
        NamedArrays params = NamedArrays.of(init.parameters());
        NamedArrays state = Trainer.zeroOptimizerState(init.parameters());
        ParameterAveraging.round(sc, task, shards, s, params, state, 0, 0, 2); // warm-up: networks built, JIT

        // direct: the same steps on one network per partition, run in parallel threads like local[P]
        Network[] nets = new Network[partitions];
        for (int p = 0; p < partitions; p++) nets[p] = task.buildNetwork();
        System.out.printf("engine: tiny UNet (%d parameters), %d partitions, batch %d; best of %d%n", nParams, partitions, batch, rounds);
        System.out.println("| averaging_frequency | round (Spark) | steps alone | overhead |");
        System.out.println("|---|---|---|---|");
        for (int k : new int[]{1, 4, 16}) {
            double bestRound = Double.MAX_VALUE, bestDirect = Double.MAX_VALUE;
            for (int r = 0; r < rounds; r++) {
                long t0 = System.nanoTime();
                ParameterAveraging.round(sc, task, shards, s, params, state, 0, r + 1, k);
                bestRound = Math.min(bestRound, (System.nanoTime() - t0) / 1e9);
                t0 = System.nanoTime();
                final int steps = k;
                final int round = r + 1;
                List<Thread> threads = new java.util.ArrayList<>();
                for (int p = 0; p < partitions; p++) {
                    final int part = p;
                    Thread t = new Thread(() -> {
                        AdamW opt = new AdamW(0.9, 0.999, 1e-8, 1e-2);
                        new StepRunner(nets[part], task.lossName(), 1, 1.0, s.schedule())
                                .run(task.open(shards.get(part)), StepRunner.rng(s.seed(), round, part), opt, 0, steps, batch);
                    });
                    t.start();
                    threads.add(t);
                }
                for (Thread t : threads) t.join();
                bestDirect = Math.min(bestDirect, (System.nanoTime() - t0) / 1e9);
            }
            System.out.printf("| %d | %.3f s | %.3f s | %.1f %% |%n", k, bestRound, bestDirect, 100 * (1 - bestDirect / bestRound));
        }
        long hwm = peakRssKb();
        System.out.printf("engine: peak RSS %.2f GB (JVM heap + ND4J off-heap)%n", hwm / 1024.0 / 1024.0);
        spark.stop();
    }

    static long peakRssKb() throws java.io.IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
        return -1;
    }
}
