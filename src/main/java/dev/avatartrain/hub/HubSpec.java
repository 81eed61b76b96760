package dev.avatartrain.hub;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.avatartrain.errors.BadInputException;

/**
 * A Hugging Face model repo reference: {@code owner/name[@revision][:path]}.
 * <ul>
 * <li>{@code revision}: a branch, tag or commit hash (default {@code main}); it may contain {@code /}
 * ({@code refs/pr/3});</li>
 * <li>{@code path}: a subfolder of the repo ({@code stabilityai/sd-vae:vae}) or, where one file is wanted,
 * that file ({@code MeiGen-AI/InfiniteTalk:single/infinitetalk.safetensors}).</li>
 * </ul>
 * Owner and name follow the hub's rules: letters, digits, {@code -}, {@code _}, {@code .}; no {@code --} or {@code ..}.
 */
public record HubSpec(String repoId, String revision, String path) {
    public static final String DEFAULT_REVISION = "main";

    private static final Pattern SPEC = Pattern.compile("([A-Za-z0-9][\\w.-]{0,95})/([A-Za-z0-9][\\w.-]{0,95})(?:@([^:@\\s]+))?(?::([^:@\\s]+))?");

    /** True when {@code s} has the syntax of a repo id spec (it does not look at the disk or the network). */
    public static boolean isRepoId(String s) {
        if (s == null) return false;
        Matcher m = SPEC.matcher(s);
        if (!m.matches()) return false;
        String owner = m.group(1), name = m.group(2);
        return !(owner.contains("--") || owner.contains("..") || name.contains("--") || name.contains("..")
                || name.endsWith(".") || owner.endsWith("."));
    }

    public static HubSpec parse(String s) {
        if (!isRepoId(s)) {
            throw new BadInputException("\"" + s + "\" is not a Hugging Face repo id: expected owner/name, optionally"
                    + " @revision and :subfolder (e.g. madebyollin/taesd, madebyollin/taesd@main, owner/name@v1.0:vae)");
        }
        Matcher m = SPEC.matcher(s);
        m.matches();
        String path = m.group(4);
        if (path != null) {
            path = path.replaceAll("^/+|/+$", "");
            for (String part : path.split("/")) {
                if (part.isEmpty() || part.equals(".") || part.equals("..")) {
                    throw new BadInputException("\"" + s + "\": the path inside the repo (\"" + m.group(4) + "\") must not have empty, . or .. parts");
                }
            }
        }
        String rev = m.group(3) == null ? DEFAULT_REVISION : m.group(3);
        if (rev.contains("..") || rev.startsWith("/") || rev.endsWith("/")) {
            throw new BadInputException("\"" + s + "\": revision \"" + rev + "\" is not a valid git revision");
        }
        return new HubSpec(m.group(1) + "/" + m.group(2), rev, path == null || path.isEmpty() ? null : path);
    }

    /** {@code file} inside the subfolder, as a repo path. */
    public String inRepo(String file) {
        return path == null ? file : path + "/" + file;
    }

    public boolean isCommitHash() {
        return revision.matches("[0-9a-f]{40}");
    }

    @Override
    public String toString() {
        return repoId + (revision.equals(DEFAULT_REVISION) ? "" : "@" + revision) + (path == null ? "" : ":" + path);
    }
}
