package dev.avatartrain.tensors;

/** Checks of member names of zip archives (.npz, torch.save) before anything is read from them. */
final class ZipMembers {
    private ZipMembers() {}

    /** Refuses names that point outside the archive: absolute paths, drive letters, ".." segments. */
    static void checkName(String name, String file) {
        String n = name.replace('\\', '/');
        boolean escapes = n.startsWith("/") || n.matches("^[A-Za-z]:.*") || n.equals("..") || n.startsWith("../")
                || n.contains("/../") || n.endsWith("/..") || n.indexOf('\0') >= 0;
        if (escapes) throw new UnsafeFileException(file + ": refused: zip member '" + name + "' has a path outside the archive.");
    }
}
