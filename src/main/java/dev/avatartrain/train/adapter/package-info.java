/**
 * Training the audio adapter on the engine: its options, the per-task network and batches ({@link
 * dev.avatartrain.train.adapter.AdapterTask}) and validation against the teacher's tokens.
 */
package dev.avatartrain.train.adapter;
