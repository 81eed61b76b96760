package dev.avatartrain.jobs;

import org.apache.spark.SparkConf;
import org.apache.spark.sql.SparkSession;

/** Creates the job's SparkSession. The master comes from spark-submit when present, else --master, else local[*]. */
public final class SparkSetup {
    public static final String DEFAULT_MASTER = "local[*]";

    private SparkSetup() {}

    public static SparkSession session(String appName, String masterOrNull) {
        SparkConf conf = new SparkConf().setAppName(appName);
        if (!conf.contains("spark.master")) conf.setMaster(masterOrNull != null ? masterOrNull : DEFAULT_MASTER);
        conf.setIfMissing("spark.ui.showConsoleProgress", "false");
        // Nearly all bytes these jobs move are the training engine's float32 chunks (parameters, gradients, moments),
        // which LZ4 cannot shrink; compressing them cost ≈ 0.8 s per round of the 74 M adapter on local[2]
        // (docs/benchmarks.md, "Training engine"). A user's --conf still wins.
        conf.setIfMissing("spark.broadcast.compress", "false");
        conf.setIfMissing("spark.shuffle.compress", "false");
        // Remote blocks above this size are fetched to a temporary file and read as a stream, not copied twice into
        // heap buffers (Spark's in-memory path): the driver's reduced chunks (32 MiB each), the reducers' shuffle
        // blocks and the executors' published chunks. Spark's 200 MiB default copies a 32 MiB chunk twice into heap
        // buffers on arrival (docs/engine.md, "Memory").
        conf.setIfMissing("spark.network.maxRemoteBlockSizeFetchToMem", "8m");
        return SparkSession.builder().config(conf).getOrCreate();
    }
}
