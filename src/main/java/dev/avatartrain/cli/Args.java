package dev.avatartrain.cli;

import dev.avatartrain.errors.BadInputException;

/** Checks of command-line values that picocli's types don't express. */
final class Args {
    private Args() {}

    static int positive(String option, int value) {
        if (value < 1) throw new BadInputException(option + " must be a positive integer, got " + value + ".");
        return value;
    }

    /** Parses "A,D" into two positive integers. */
    static int[] intPair(String option, String text) {
        String[] parts = text.split(",");
        try {
            if (parts.length == 2) {
                int a = Integer.parseInt(parts[0].trim()), b = Integer.parseInt(parts[1].trim());
                if (a > 0 && b > 0) return new int[]{a, b};
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new BadInputException(option + " must be two positive integers separated by a comma (e.g. 10,384), got '" + text + "'.");
    }
}
