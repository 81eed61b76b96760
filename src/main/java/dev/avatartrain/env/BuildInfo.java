package dev.avatartrain.env;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;

/**
 * The project's version and git revision, written into {@code avatar-train/build.properties} by the build (Maven
 * resource filtering, the revision from the git-commit-id plugin). A build from a source tarball has no git
 * repository: its revision is "unknown".
 */
public record BuildInfo(String version, String revision) {
    private static final String RESOURCE = "/avatar-train/build.properties";

    public static BuildInfo current() {
        Properties p = new Properties();
        try (InputStream in = BuildInfo.class.getResourceAsStream(RESOURCE)) {
            if (in != null) p.load(in);
        } catch (IOException e) {
            // unreadable: reported as unknown below
        }
        String rev = known(p.getProperty("revision"));
        String version = known(p.getProperty("version"));
        return new BuildInfo(version != null ? version : "unknown", rev != null ? rev : "unknown");
    }

    /** The version of a library from its jar's Maven metadata, or "unknown". */
    public static String mavenVersion(String group, String artifact) {
        Properties p = new Properties();
        try (InputStream in = BuildInfo.class.getResourceAsStream("/META-INF/maven/" + group + "/" + artifact + "/pom.properties")) {
            if (in != null) p.load(in);
        } catch (IOException e) {
            // reported as unknown
        }
        return p.getProperty("version", "unknown");
    }

    /** A filtered value, or null where the build had nothing to put in (no git: the placeholder stays). */
    private static String known(String v) {
        return v == null || v.isBlank() || v.contains("${") ? null : v.strip();
    }
}
