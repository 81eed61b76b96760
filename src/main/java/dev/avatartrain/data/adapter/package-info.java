/**
 * Audio-adapter training data: the JSON manifest of (audio features, teacher tokens, weight) items, read through
 * the storage layer and validated per item against the adapter's shapes.
 */
package dev.avatartrain.data.adapter;
