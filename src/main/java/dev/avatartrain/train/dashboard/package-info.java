/** The live training dashboard the driver serves while a run trains (page, metrics rows, latest validation grid). */
package dev.avatartrain.train.dashboard;
