/**
 * What this installation is and runs on, for bug reports and for {@code avatar-train env} / {@code --version}: the
 * project's version and git revision (embedded at build time), the Java, Spark, Hadoop and ND4J versions, the ND4J
 * backend, the CPU's vector features and the GPUs with what this build can do on each.
 */
package dev.avatartrain.env;
