/**
 * The InfiniteTalk / MultiTalk audio adapter: {@code AudioProjModel} with PyTorch parameter names, defined once on
 * {@link dev.avatartrain.models.nn.Ops}, and the inference windowing that turns per-frame audio embeddings into its
 * inputs.
 */
package dev.avatartrain.models.adapter;
