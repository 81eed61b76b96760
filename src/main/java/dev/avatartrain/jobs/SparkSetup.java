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
        return SparkSession.builder().config(conf).getOrCreate();
    }
}
