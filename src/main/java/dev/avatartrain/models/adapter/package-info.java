/**
 * The InfiniteTalk / MultiTalk audio adapter: {@code AudioProjModel} as a SameDiff graph with PyTorch parameter
 * names, and the inference windowing that turns per-frame audio embeddings into its inputs.
 */
package dev.avatartrain.models.adapter;
