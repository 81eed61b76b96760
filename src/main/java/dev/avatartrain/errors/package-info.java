/** Exceptions for problems a user can cause (bad files, keys, values); the CLI prints them without a stack trace. */
package dev.avatartrain.errors;
