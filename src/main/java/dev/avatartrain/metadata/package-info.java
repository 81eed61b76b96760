/** The metadata of a frame tree (clips, their frames, audio pairing): the parallel scan and its file formats. */
package dev.avatartrain.metadata;
