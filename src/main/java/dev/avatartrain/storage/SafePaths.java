package dev.avatartrain.storage;

import dev.avatartrain.errors.BadInputException;

/**
 * The one check applied wherever a name read from metadata, a manifest or the command line becomes part of a path:
 * metadata and manifests come from storage that other people write to, so a name must not lead outside the folder
 * it is joined to. A clip or frame name is one plain path segment; a relative path is segments without {@code ..}.
 */
public final class SafePaths {
    private SafePaths() {}

    /** A name that would lead outside its folder. */
    public static final class UnsafeNameException extends BadInputException {
        UnsafeNameException(String message) {
            super(message);
        }
    }

    /**
     * Returns {@code name} when it is one plain path segment (not empty, not {@code .} or {@code ..}, no {@code /},
     * {@code \}, NUL or other control character), else throws naming {@code what} (e.g. "clip name").
     */
    public static String name(String name, String what) {
        String why = problem(name);
        if (why != null) throw new UnsafeNameException(what + " " + quoted(name) + " is not a plain name (" + why
                + "); names in metadata, manifests and --clip must stay inside their folder.");
        return name;
    }

    /**
     * Returns {@code path} when it is a relative path of plain segments joined by {@code /} (a leading {@code ./}
     * allowed), else throws naming {@code what}.
     */
    public static String relative(String path, String what) {
        String p = path.startsWith("./") ? path.substring(2) : path;
        if (p.startsWith("/")) throw new UnsafeNameException(what + " " + quoted(path) + " is absolute where a path"
                + " relative to its folder is expected.");
        for (String segment : p.split("/", -1)) {
            String why = problem(segment);
            if (why != null) throw new UnsafeNameException(what + " " + quoted(path) + " leaves its folder or is not a"
                    + " plain relative path (" + why + "); name files inside the folder, or give an absolute location.");
        }
        return path;
    }

    private static String problem(String s) {
        if (s == null || s.isEmpty()) return "empty";
        if (s.equals(".") || s.equals("..")) return "'" + s + "' is a folder reference";
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '/' || c == '\\') return "contains '" + c + "'";
            if (c < 0x20 || c == 0x7f) return "contains a control character";
        }
        return null;
    }

    private static String quoted(String s) {
        if (s == null) return "(missing)";
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) b.append(c < 0x20 || c == 0x7f ? String.format("\\u%04x", (int) c) : c);
        return b.append('"').toString();
    }
}
