/**
 * Benchmark mains (not tests), run by the scripts in bench/ ({@code bench/java.sh NAME}): speed and memory of the
 * networks, layers, optimizer, engine and file formats, printed for docs/benchmarks.md.
 */
package dev.avatartrain.bench;
