package dev.avatartrain.config;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Resolves relative paths of the configuration (such as {@code configuration/unet/config.json}) the way a
 * user expects: against the working directory first, then against the installation
 * ({@code -Davatartrain.home}, set by {@code bin/avatar-train}).
 */
public final class ProjectPaths {
    public static final String HOME_PROPERTY = "avatartrain.home";

    private ProjectPaths() {}

    public static Path resolve(String path) {
        Path p = Path.of(path);
        if (p.isAbsolute() || Files.exists(p)) return p;
        String home = System.getProperty(HOME_PROPERTY);
        if (home != null) {
            Path underHome = Path.of(home).resolve(p);
            if (Files.exists(underHome)) return underHome;
        }
        return p;
    }
}
