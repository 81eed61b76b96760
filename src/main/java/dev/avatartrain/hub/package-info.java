/**
 * Files from the Hugging Face Hub: repo ids such as {@code madebyollin/taesd}, downloaded the way
 * {@code huggingface_hub} does and kept in its cache layout, so Python and this tool share one download.
 * Entry point: {@link dev.avatartrain.hub.HubFiles}.
 */
package dev.avatartrain.hub;
