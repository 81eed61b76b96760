/**
 * Generated sample data: an HDTF-like frame tree of real PNG frames and per-frame {@code .npy} audio features,
 * in which the mouth opening follows a signal the audio features also carry, so a model can learn audio to mouth.
 */
package dev.avatartrain.synth;
