package dev.avatartrain.config;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.storage.Storage;

/**
 * Reads a file the configuration names ({@code model.unet_config_file}, a file of {@code --config-dir}, the adapter
 * config, a manifest) from wherever it is, so the same command works on a laptop and in a YARN/Kubernetes driver
 * container. A location is tried as:
 * <ol>
 * <li>a storage URL ({@code s3a://}, {@code hdfs://}, {@code gs://}, {@code https://}, ... : whatever {@link Storage}
 * reads), when it has a scheme;</li>
 * <li>a local path (relative to the working directory, then to the installation, see {@link ProjectPaths});</li>
 * <li>a file bundled in the jar (classpath resource), for relative paths such as {@code configuration/unet/config.json}.</li>
 * </ol>
 * When none holds the file, the error lists every place tried.
 */
public final class ConfigFiles {
    private ConfigFiles() {}

    /** A file's text and where it was found (a path, URL or {@code classpath:...}). */
    public record Text(String source, String text) {}

    public static boolean isUrl(String location) {
        return location.matches("[A-Za-z][A-Za-z0-9+.-]*://.*") && !location.startsWith("file://");
    }

    /** Reads {@code location}; {@code what} names the key or option for the error (e.g. {@code model.unet_config_file}). */
    public static Text read(String location, String what) {
        return find(location, what, new ArrayList<>(), true);
    }

    /** Reads {@code dir/fileName}, or returns null when no place holds it ({@code tried} receives the places). */
    public static Text readIn(String dir, String fileName, String what, List<String> tried) {
        String location = isUrl(dir) ? dir.replaceAll("/+$", "") + "/" + fileName : Path.of(dir).resolve(fileName).toString();
        return find(location, what, tried, false);
    }

    /** A local copy of {@code location} for code that needs a path (bundled or remote files go to a temporary file). */
    public static Path localFile(String location, String what) {
        if (!isUrl(location)) {
            Path p = ProjectPaths.resolve(location.startsWith("file://") ? location.substring(7) : location);
            if (Files.isRegularFile(p)) return p;
        }
        Text t = read(location, what);
        try {
            String name = Path.of(location.replaceAll("/+$", "")).getFileName().toString();
            Path tmp = Files.createTempFile("avatar-train-", "-" + name);
            tmp.toFile().deleteOnExit();
            Files.writeString(tmp, t.text(), StandardCharsets.UTF_8);
            return tmp;
        } catch (IOException e) {
            throw new BadInputException(what + ": " + location + ": cannot make a local copy: " + e.getMessage(), e);
        }
    }

    private static Text find(String location, String what, List<String> tried, boolean required) {
        if (location == null || location.isBlank()) throw new BadInputException(what + " is empty");
        if (isUrl(location)) {
            int slash = location.lastIndexOf('/');
            tried.add(location);
            try (Storage s = Storage.forUrl(location.substring(0, slash), hadoop())) {
                return new Text(location, new String(s.readAll(location.substring(slash + 1)), StandardCharsets.UTF_8));
            } catch (FileNotFoundException | java.nio.file.NoSuchFileException e) {
                return notFound(location, what, tried, required);
            } catch (IOException e) {
                throw new BadInputException(what + ": " + location + " cannot be read: " + e.getMessage(), e);
            }
        }
        String plain = location.startsWith("file://") ? location.substring(7) : location;
        Path p = Path.of(plain);
        List<Path> candidates = new ArrayList<>(List.of(p));
        String home = System.getProperty(ProjectPaths.HOME_PROPERTY);
        if (!p.isAbsolute() && home != null) candidates.add(Path.of(home).resolve(p));
        for (Path c : candidates) {
            tried.add(c.toAbsolutePath().toString());
            if (Files.isRegularFile(c)) {
                try {
                    return new Text(c.toString(), Files.readString(c, StandardCharsets.UTF_8));
                } catch (IOException e) {
                    throw new BadInputException(what + ": " + c + " cannot be read: " + e.getMessage(), e);
                }
            }
        }
        if (!p.isAbsolute()) {
            String resource = p.normalize().toString().replace('\\', '/');
            tried.add("classpath:" + resource + " (bundled in the jar)");
            try (InputStream in = ConfigFiles.class.getResourceAsStream("/" + resource)) {
                if (in != null) return new Text("classpath:" + resource, new String(in.readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new BadInputException(what + ": classpath:" + resource + " cannot be read: " + e.getMessage(), e);
            }
        }
        return notFound(location, what, tried, required);
    }

    private static Text notFound(String location, String what, List<String> tried, boolean required) {
        if (!required) return null;
        throw new BadInputException(what + ": " + location + " not found; tried " + String.join(", ", tried));
    }

    /**
     * The Hadoop settings for storage URLs: the active Spark session's, else Hadoop's defaults (core-site.xml on the
     * classpath) plus the {@code spark.hadoop.*} properties spark-submit passed to this JVM.
     */
    public static Configuration hadoop() {
        // the running session's settings, with spark.hadoop.* system properties (as spark-submit passes --conf) on top
        var active = org.apache.spark.sql.SparkSession.getActiveSession();
        Configuration conf = active.isDefined() ? new Configuration(active.get().sparkContext().hadoopConfiguration()) : new Configuration();
        for (Map.Entry<Object, Object> e : System.getProperties().entrySet()) {
            String k = String.valueOf(e.getKey());
            if (k.startsWith("spark.hadoop.")) conf.set(k.substring("spark.hadoop.".length()), String.valueOf(e.getValue()));
        }
        return conf;
    }
}
