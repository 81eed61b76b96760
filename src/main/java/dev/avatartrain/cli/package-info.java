/** The {@code avatar-train} command: parsing, usage, exit codes (the only place that exits). */
package dev.avatartrain.cli;
