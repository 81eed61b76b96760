/**
 * Typed configuration: the seed's YAML files ({@code data.yaml}, {@code train.yaml}, {@code model.yaml},
 * {@code optimizer.yaml}), validated against one table of keys, with command-line overrides.
 */
package dev.avatartrain.config;
