package dev.avatartrain.bench;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.SparkSession;

import dev.avatartrain.data.adapter.AdapterManifest;
import dev.avatartrain.models.adapter.AudioProjConfig;
import dev.avatartrain.synth.SyntheticAdapterData;
import dev.avatartrain.train.ModelState;
import dev.avatartrain.train.ParameterAveraging;
import dev.avatartrain.train.PublishedChunks;
import dev.avatartrain.train.WorkerMemory;
import dev.avatartrain.train.adapter.AdapterOptions;
import dev.avatartrain.train.adapter.AdapterTask;
import dev.avatartrain.train.optim.LrSchedule;
import scala.Tuple2;

/**
 * The engine at real sizes ({@code bench/engine.sh}): the audio adapter of {@code configuration/adapter/train_adapter.yaml}
 * (74 M parameters; {@code intermediate_dim=1536}: 200 M+) on {@code local[P]} with P workers, synthetic items of
 * 9–25 frames. Per round: wall time, the tasks' mean compute time (training only), the rest (communication:
 * publishing, shuffle, reduce, streaming back, the driver's AdamW step) and bytes per worker; exact mode
 * ({@code averaging_frequency: 1}) and one averaging round (H = 2). Then two ways to hand the workers the
 * parameters, alone: the engine's disk-only blocks ({@link PublishedChunks}) and a torrent broadcast per chunk (the
 * engine's way until 2026-12-01 evening), with the time and what each adds to the driver's memory store. Args: {@code intermediate_dim workers accumulation rounds}.
 */
public final class EngineBench {
    public static void main(String[] args) throws Exception {
        int intermediate = args.length > 0 ? Integer.parseInt(args[0]) : 512;
        int workers = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        int accumulation = args.length > 2 ? Integer.parseInt(args[2]) : 1;
        int rounds = args.length > 3 ? Integer.parseInt(args[3]) : 3;
        Path dir = Files.createTempDirectory("engine-bench");
        AdapterOptions o = AdapterOptions.load(null, List.of(), Map.of("manifest", "synthetic", "intermediate_dim", intermediate));
        AudioProjConfig cfg = o.model();
        Path manifest = SyntheticAdapterData.write(dir, cfg, 2 * workers, 3);
        AdapterTask task = new AdapterTask(AdapterManifest.read(manifest.toString(), null), cfg, 42, o.batchSize(), "", Map.of());
        List<List<String>> shards = new ArrayList<>();
        for (int p = 0; p < workers; p++) shards.add(List.of(String.valueOf(2 * p), String.valueOf(2 * p + 1)));
        dev.avatartrain.config.OptimizerConfig oc = new dev.avatartrain.config.OptimizerConfig(1e-4, false, "constant", 0, 0.9, 0.999,
                1e-2, 1e-8, 1.0, 1, 1.0);
        ParameterAveraging.Settings s = new ParameterAveraging.Settings(accumulation, 1.0, LrSchedule.of(oc, 100, 1e-4), 0.9, 0.999, 1e-8, 1e-2, 42);

        SparkSession spark = SparkSession.builder().master("local[" + workers + "]").appName("EngineBench")
                .config("spark.ui.enabled", "false").getOrCreate();
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        ModelState state = ModelState.of(task.buildNetwork(), ModelState.DEFAULT_CHUNK_FLOATS);
        long n = state.layout().total();
        System.out.printf("engine: adapter intermediate_dim %d: %,d parameters (state %.2f GB, %d chunks of 32 MiB), %d workers, batch %d,"
                        + " accumulation %d%n", intermediate, n, state.bytes() / 1e9, state.layout().chunks(), workers, o.batchSize(), accumulation);
        WorkerMemory.check(sc, state.layout(), true, workers);
        ParameterAveraging.round(sc, task, shards, s, state, 0, 1, true); // warm-up: networks built, JIT
        resetPeaks();
        System.out.println("| mode | round | compute (task mean) | communication | share | publish / train+reduce / stream+apply | MB in / out per worker |");
        System.out.println("|---|---|---|---|---|---|---|");
        for (int r = 1; r <= rounds; r++) row("exact", ParameterAveraging.round(sc, task, shards, s, state, r, 1, true));
        row("averaging H=2", ParameterAveraging.round(sc, task, shards, s, state, rounds + 1, 2, false));
        System.out.printf("engine: JVM peak heap %.2f GB (driver and both local workers: state %.2f GB + reduced"
                + " blocks + shuffle), peak RSS %.2f GB%n", peakHeap() / 1e9, state.bytes() / 1e9, peakRssKb() / 1e6);

        // the two ways to hand the workers the parameters, alone: what each adds to the driver's memory store, and time
        for (int r = 0; r < 2; r++) {
            Handover pub = published(sc, state, workers), bc = broadcast(sc, state, workers);
            System.out.printf("engine: parameters (%.0f MB) to %d workers: published disk blocks %.2f s (driver memory store + %.0f MB),"
                            + " torrent broadcast %.2f s (driver memory store + %.0f MB)%n", 4e-6 * n, workers, pub.seconds(), pub.driverBytes() / 1e6,
                    bc.seconds(), bc.driverBytes() / 1e6);
        }
        spark.stop();
    }

    static void row(String mode, ParameterAveraging.Round r) {
        double comm = r.seconds() - r.computeSeconds();
        System.out.printf("| %s | %.2f s | %.2f s | %.2f s | %.0f %% | %.2f / %.2f / %.2f s | %.0f / %.0f |%n", mode, r.seconds(), r.computeSeconds(), comm,
                100 * comm / r.seconds(), r.phases().publish(), r.phases().trainAndReduce(), r.phases().streamAndApply(),
                r.bytesInPerWorker() / 1e6, r.bytesOutPerWorker() / 1e6);
    }

    /** Seconds to hand every worker the parameters, and the bytes this added to the driver's memory store before any task ran. */
    record Handover(double seconds, long driverBytes) {}

    /** The engine's way: the chunks as disk-only blocks of the driver's block manager, every worker reads all of them. */
    static Handover published(JavaSparkContext sc, ModelState state, int workers) {
        long before = storeUsed(sc), t0 = System.nanoTime();
        List<float[]> chunks = new ArrayList<>();
        for (int c = 0; c < state.layout().chunks(); c++) chunks.add(state.params(c));
        PublishedChunks p = PublishedChunks.publish(sc, chunks);
        long added = storeUsed(sc) - before;
        sc.parallelize(ids(workers), workers).map(i -> {
            double s = 0;
            for (int k = 0; k < p.size(); k++) {
                float[] x = new float[p.length(k)];
                p.read(k, x);
                s += x[0];
            }
            return s;
        }).collect();
        p.close();
        return new Handover((System.nanoTime() - t0) / 1e9, added);
    }

    /** Before 2026-12-01 evening: one torrent broadcast per chunk (value and serialised pieces in the driver's store). */
    static Handover broadcast(JavaSparkContext sc, ModelState state, int workers) {
        long before = storeUsed(sc), t0 = System.nanoTime();
        List<Broadcast<ParameterAveraging.Piece>> in = new ArrayList<>();
        for (int c = 0; c < state.layout().chunks(); c++) in.add(sc.broadcast(new ParameterAveraging.Piece(state.params(c), null)));
        long added = storeUsed(sc) - before;
        sc.parallelize(ids(workers), workers).map(i -> {
            double s = 0;
            for (Broadcast<ParameterAveraging.Piece> b : in) s += b.value().values()[0];
            return s;
        }).collect();
        for (Broadcast<ParameterAveraging.Piece> b : in) b.destroy();
        return new Handover((System.nanoTime() - t0) / 1e9, added);
    }

    static List<Integer> ids(int n) {
        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < n; i++) ids.add(i);
        return ids;
    }

    /** Bytes in the driver's memory store (local mode: the one block manager). */
    static long storeUsed(JavaSparkContext sc) {
        long used = 0;
        scala.collection.Iterator<Tuple2<Object, Object>> it = sc.sc().getExecutorMemoryStatus().valuesIterator();
        while (it.hasNext()) {
            Tuple2<Object, Object> v = it.next();
            used += (Long) v._1() - (Long) v._2();
        }
        return used;
    }

    static void resetPeaks() {
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) p.resetPeakUsage();
    }

    static long peakHeap() {
        long sum = 0;
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) if (p.getType() == MemoryType.HEAP) sum += p.getPeakUsage().getUsed();
        return sum;
    }

    static long peakRssKb() throws java.io.IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
        return -1;
    }
}
