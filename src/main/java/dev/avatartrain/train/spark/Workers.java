package dev.avatartrain.train.spark;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;

import dev.avatartrain.errors.BadInputException;

/**
 * How many workers a run gets and how many cores each: a training segment is one barrier stage, which Spark starts
 * only when it can run all of its tasks at once, so the workers must fit the task slots. {@code num_workers: 0} means
 * one worker per executor (in local mode: one, on all of the JVM's cores).
 */
public final class Workers {
    private static final Pattern LOCAL = Pattern.compile("local\\[(\\d+|\\*)(,\\d+)?]");
    /** How long the driver waits for executors to register before it counts the slots. */
    static final long REGISTRATION_WAIT_MS = 30_000;

    private Workers() {}

    /** Cores of one executor: local[N]'s N, else {@code spark.executor.cores} (or the machine's). */
    public static int coresPerExecutor(SparkConf conf) {
        String master = conf.get("spark.master", "local[*]");
        if (master.equals("local")) return 1;
        Matcher m = LOCAL.matcher(master);
        if (m.matches()) return m.group(1).equals("*") ? Runtime.getRuntime().availableProcessors() : Integer.parseInt(m.group(1));
        return conf.getInt("spark.executor.cores", Runtime.getRuntime().availableProcessors());
    }

    static boolean local(SparkConf conf) {
        String master = conf.get("spark.master", "local[*]");
        return master.equals("local") || LOCAL.matcher(master).matches();
    }

    /** Executors registered with the driver (local mode: the driver's own). */
    static int executors(JavaSparkContext sc) {
        if (local(sc.getConf())) return 1;
        return sc.sc().getExecutorIds().size();
    }

    /** Task slots of the running executors: what a barrier stage can use at once. */
    static int slots(JavaSparkContext sc) {
        return sc.sc().maxNumConcurrentTasks(sc.sc().resourceProfileManager().defaultResourceProfile());
    }

    /**
     * The number of workers for {@code requested} ({@code num_workers}; 0 = one per executor), at most {@code items}
     * (each worker needs data); refused, with the numbers, when more than the slots the executors offer.
     */
    public static int resolve(JavaSparkContext sc, int requested, int items, String setting) {
        long until = System.currentTimeMillis() + REGISTRATION_WAIT_MS;
        int want = requested > 0 ? requested : 1;
        while (!local(sc.getConf()) && slots(sc) < want && System.currentTimeMillis() < until) {
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        int executors = executors(sc), slots = slots(sc);
        int workers = Math.max(1, Math.min(items, requested > 0 ? requested : executors));
        if (workers > slots) {
            throw new BadInputException(String.format("%s is %d, but the cluster offers %d task slot%s (%d executor%s × %d cores / "
                            + "spark.task.cpus %d) and a training segment runs all its workers at once (a Spark barrier stage). Lower %s"
                            + " (0 = one worker per executor) or add executors.", setting, workers, slots, slots == 1 ? "" : "s",
                    executors, executors == 1 ? "" : "s", coresPerExecutor(sc.getConf()), sc.getConf().getInt("spark.task.cpus", 1),
                    setting));
        }
        return workers;
    }
}
