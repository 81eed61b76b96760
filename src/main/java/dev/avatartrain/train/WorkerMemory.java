package dev.avatartrain.train;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.bytedeco.javacpp.Pointer;

import dev.avatartrain.errors.BadInputException;

/**
 * The check before training that the model fits: every executor's ND4J memory must hold, for each training task it
 * runs at once, the network's parameters, the summed gradients and, when
 * averaging, both AdamW moments; the driver's heap must hold the state. Activations come on top and are not counted:
 * passing is necessary, not sufficient. Fails with the bytes needed and the memory configured.
 */
public final class WorkerMemory {
    private static final Pattern LOCAL = Pattern.compile("local\\[(\\d+|\\*)(,\\d+)?]");

    private WorkerMemory() {}

    /**
     * Float32 copies of the parameters a training task holds: parameters and gradients (micro-batches are accumulated
     * into the gradients in place, StepRunner), and both AdamW moments when averaging.
     */
    static int copiesPerTask(boolean exact) {
        return 2 + (exact ? 0 : 2);
    }

    public static void check(JavaSparkContext sc, FlatLayout layout, boolean exact, int workers) {
        SparkConf conf = sc.getConf();
        long paramBytes = 4 * layout.total();
        long stateBytes = 3 * paramBytes;
        long perTask = copiesPerTask(exact) * paramBytes;
        String master = conf.get("spark.master", "local[*]");
        Matcher local = LOCAL.matcher(master);
        boolean isLocal = master.equals("local") || local.matches();
        int slots;
        if (isLocal) {
            slots = master.equals("local") ? 1 : local.group(1).equals("*") ? Runtime.getRuntime().availableProcessors() : Integer.parseInt(local.group(1));
        } else {
            slots = conf.getInt("spark.executor.cores", 1) / Math.max(1, conf.getInt("spark.task.cpus", 1));
        }
        int tasks = Math.max(1, Math.min(workers, slots));
        // in local mode the driver's own network shares the JVM with the tasks
        long needed = tasks * perTask + (isLocal ? paramBytes : 0);

        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < workers; i++) ids.add(i);
        List<Long> limits = sc.parallelize(ids, workers).map(i -> Pointer.maxBytes()).collect(); // each worker's own limit
        for (long l : limits) {
            long allowed = l > 0 ? l : Long.MAX_VALUE;
            if (needed > allowed) {
                throw new BadInputException(String.format("train: the model does not fit a worker: %,d parameters need %s of ND4J memory per"
                                + " training task (%d float32 copies: parameters, summed gradients%s) × %d task%s per %s = %s, but %s allows %s"
                                + " (%s; ND4J's limit org.bytedeco.javacpp.maxbytes, default the JVM heap). Give the %s more memory, run fewer"
                                + " tasks per executor, or train a smaller model.",
                        layout.total(), gib(perTask), copiesPerTask(exact),
                        exact ? "" : ", both AdamW moments", tasks, tasks == 1 ? "" : "s", isLocal ? "JVM (local mode, plus the driver's network)" : "executor",
                        gib(needed), isLocal ? "this JVM" : "an executor", gib(allowed),
                        isLocal ? "local mode: -Xmx / spark.driver.memory = " + conf.get("spark.driver.memory", "(not set)")
                                : "spark.executor.memory = " + conf.get("spark.executor.memory", "(not set: 1g)"),
                        isLocal ? "JVM" : "executors"));
            }
        }
        // the state, and the chunks in flight: two reduced chunks, and room for the serialised bytes of each when a
        // lost block is recomputed and arrives as a task result (ParameterAveraging.stream's fallback)
        long inFlight = 4L * 4 * Math.min(layout.total(), layout.chunkFloats());
        long driverNeeds = stateBytes + inFlight;
        long heap = Runtime.getRuntime().maxMemory();
        if (driverNeeds > heap) {
            throw new BadInputException(String.format("train: the driver cannot hold the model: its state (parameters and both AdamW moments,"
                            + " %s) and the chunks in flight (%s) need %s of heap, but the driver has %s (-Xmx /"
                            + " spark.driver.memory = %s). Give the driver more memory.", gib(stateBytes), gib(inFlight), gib(driverNeeds), gib(heap),
                    conf.get("spark.driver.memory", "(not set)")));
        }
    }

    static String gib(long bytes) {
        return String.format("%.2f GiB (%,d bytes)", bytes / (double) (1L << 30), bytes);
    }
}
