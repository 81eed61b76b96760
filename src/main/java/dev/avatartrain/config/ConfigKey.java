package dev.avatartrain.config;

import java.util.List;
import java.util.Locale;

/**
 * One configuration key: the file (section) it lives in, its type, default, allowed values and meaning.
 * {@link ConfigSchema} holds the table of all keys; validation, defaults and the README reference come from it.
 */
public record ConfigKey(String section, String name, Type type, Object defaultValue,
                        double min, double max, List<String> choices, String description) {

    public enum Type { STRING, OPTIONAL_STRING, INT, LONG, DOUBLE, BOOL, CHOICE }

    public String qualifiedName() {
        return section + "." + name;
    }

    /** A human description of what values are allowed, used in error messages. */
    public String allowed() {
        return switch (type) {
            case STRING -> "a string";
            case OPTIONAL_STRING -> "a string or null";
            case BOOL -> "true or false";
            case CHOICE -> "one of " + String.join(", ", choices);
            case INT, LONG -> "an integer" + range(true);
            case DOUBLE -> "a number" + range(false);
        };
    }

    private String range(boolean integer) {
        boolean hasMin = min != Double.NEGATIVE_INFINITY;
        boolean hasMax = max != Double.POSITIVE_INFINITY;
        if (!hasMin && !hasMax) return "";
        if (hasMin && hasMax) return " from " + fmt(min, integer) + " to " + fmt(max, integer);
        return hasMin ? " >= " + fmt(min, integer) : " <= " + fmt(max, integer);
    }

    private static String fmt(double v, boolean integer) {
        return integer ? Long.toString((long) v) : String.format(Locale.ROOT, "%s", v);
    }

    /**
     * Converts a value parsed from YAML (or a --set override) to this key's Java type, or returns null and
     * leaves the problem to {@link #problem(Object)}.
     */
    Object coerce(Object raw) {
        switch (type) {
            case STRING, CHOICE:
                return raw instanceof String s ? s : null;
            case OPTIONAL_STRING:
                return raw instanceof String s ? s : null;
            case BOOL:
                return raw instanceof Boolean b ? b : null;
            case INT:
                if (raw instanceof Integer i) return i;
                if (raw instanceof Long l && l >= Integer.MIN_VALUE && l <= Integer.MAX_VALUE) return l.intValue();
                return null;
            case LONG:
                if (raw instanceof Integer i) return i.longValue();
                if (raw instanceof Long l) return l;
                return null;
            case DOUBLE:
                if (raw instanceof Number n) return n.doubleValue();
                // YAML 1.1 (SnakeYAML, PyYAML) reads "5e-5" as a string: accept numeric strings for numbers.
                if (raw instanceof String s) {
                    try {
                        return Double.parseDouble(s.trim());
                    } catch (NumberFormatException e) {
                        return null;
                    }
                }
                return null;
            default:
                throw new IllegalStateException(type.toString());
        }
    }

    /**
     * {@code raw} (as parsed from YAML or JSON) as this key's Java type, checked like the configuration files are:
     * a {@link dev.avatartrain.errors.BadInputException} naming {@code where}, the key and what is allowed otherwise.
     */
    public Object check(Object raw, String where) {
        Object value = raw == null ? null : coerce(raw);
        String problem = raw != null && value == null ? "must be " + allowed() + ", found " + raw : problem(value);
        if (problem != null) {
            throw new dev.avatartrain.errors.BadInputException(where + ": key '" + name + "' " + problem
                    + (problem.startsWith("must") ? "." : "; it must be " + allowed() + "."));
        }
        return value;
    }

    /** Null if {@code value} (already coerced) is allowed, else what is wrong with it. */
    String problem(Object value) {
        if (value == null) return type == Type.OPTIONAL_STRING ? null : "is missing a value";
        if (type == Type.CHOICE && !choices.contains(value)) return "is '" + value + "'";
        if (value instanceof Number n) {
            double d = n.doubleValue();
            if (Double.isNaN(d) || d < min || d > max) return "is " + value;
        }
        return null;
    }
}
