package dev.avatartrain.storage;

import java.util.Map;

/** Which Hadoop connector serves which URL scheme: named in the error when a scheme has none on the classpath. */
final class Connectors {
    private Connectors() {}

    private static final Map<String, String> BY_SCHEME = Map.ofEntries(
            Map.entry("gs", "the Cloud Storage connector (com.google.cloud.bigdataoss:gcs-connector, its hadoop3 shaded jar;"
                    + " Dataproc images have it)"),
            Map.entry("abfs", "hadoop-azure (org.apache.hadoop:hadoop-azure, the cluster's Hadoop version)"),
            Map.entry("abfss", "hadoop-azure (org.apache.hadoop:hadoop-azure, the cluster's Hadoop version)"),
            Map.entry("wasb", "hadoop-azure (org.apache.hadoop:hadoop-azure, the cluster's Hadoop version) and"
                    + " com.microsoft.azure:azure-storage"),
            Map.entry("wasbs", "hadoop-azure (org.apache.hadoop:hadoop-azure, the cluster's Hadoop version) and"
                    + " com.microsoft.azure:azure-storage"),
            Map.entry("adl", "hadoop-azure-datalake (org.apache.hadoop:hadoop-azure-datalake)"),
            Map.entry("s3a", "hadoop-aws (org.apache.hadoop:hadoop-aws, the cluster's Hadoop version) and its"
                    + " com.amazonaws:aws-java-sdk-bundle"),
            Map.entry("oss", "hadoop-aliyun (org.apache.hadoop:hadoop-aliyun)"),
            Map.entry("cosn", "hadoop-cos (org.apache.hadoop:hadoop-cos)"),
            Map.entry("obs", "hadoop-huaweicloud (org.apache.hadoop:hadoop-huaweicloud)"),
            Map.entry("hdfs", "the HDFS client (org.apache.hadoop:hadoop-client-runtime, part of every Spark build with Hadoop)"),
            Map.entry("webhdfs", "the HDFS client (org.apache.hadoop:hadoop-client-runtime)"),
            Map.entry("viewfs", "the HDFS client (org.apache.hadoop:hadoop-client-runtime) and the mount table (fs.viewfs.mounttable.*)"));

    /** The connector to add for {@code scheme}. */
    static String forScheme(String scheme) {
        String c = BY_SCHEME.get(scheme.toLowerCase(java.util.Locale.ROOT));
        return c != null ? c : "the Hadoop FileSystem connector for '" + scheme + "' (its class set in fs." + scheme + ".impl)";
    }
}
