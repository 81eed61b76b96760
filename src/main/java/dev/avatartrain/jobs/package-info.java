/** One class per command, wiring the pipeline's stages together; no maths here. */
package dev.avatartrain.jobs;
