/**
 * Collectives (all-reduce, reduce-scatter, all-gather, barrier) over flat float32 buffers among the ranks of a
 * data-parallel job, behind one interface ({@link dev.avatartrain.collective.Collective}): a bandwidth-optimal ring
 * over TCP on the CPU ({@link dev.avatartrain.collective.TcpRing}); independent of Spark and of the networks.
 */
package dev.avatartrain.collective;
