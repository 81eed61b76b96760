package dev.avatartrain.metadata;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.avatartrain.config.DataConfig;
import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.storage.StorageUrl;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * Metadata for a training job: {@code metadata_url} (local, s3a or HTTPS), else the same file name under
 * {@code s3_data_base_url}; if neither can be read, a scan of the frame tree (local base first), said in the log.
 */
public final class MetadataSource {
    private static final Logger LOG = LoggerFactory.getLogger(MetadataSource.class);
    private MetadataSource() {}

    /** The usable clips (listed without error, at least one frame), sorted by name. */
    public static List<ClipMetadata> load(SparkSession spark, DataConfig data, Configuration hadoop) {
        List<String> tried = new ArrayList<>();
        for (String url : candidates(data)) {
            try {
                List<ClipMetadata> clips = MetadataFiles.read(url, spark, hadoop);
                LOG.info("metadata: " + clips.size() + " clips from " + url);
                return usable(clips);
            } catch (BadInputException e) {
                tried.add(url + " (" + e.getMessage() + ")");
            }
        }
        LOG.info("metadata: none readable (tried " + String.join("; ", tried) + "); scanning the frame tree instead");
        List<String> failures = new ArrayList<>();
        for (String base : new String[]{data.localDataBaseUrl(), data.s3DataBaseUrl()}) {
            if (base == null || base.isBlank()) continue;
            FrameTree tree = new FrameTree(base, data.imageFolderName(), data.audioFolderName());
            try (Storage storage = Storage.forUrl(tree.root(), hadoop)) {
                MetadataScan.Result r = MetadataScan.run(spark, tree, storage, Map.of(), false);
                LOG.info("metadata: scanned " + r.clips().size() + " clips in " + base);
                return usable(r.clips());
            } catch (BadInputException e) {
                failures.add(e.getMessage());
            } catch (java.io.IOException e) {
                failures.add(base + ": " + e.getMessage());
            }
        }
        throw new BadInputException("data.yaml: no metadata could be read (tried " + String.join("; ", tried)
                + ") and no frame tree could be scanned: " + String.join("; ", failures));
    }

    static List<String> candidates(DataConfig data) {
        LinkedHashSet<String> out = new LinkedHashSet<>();
        String m = data.metadataUrl();
        if (m != null && !m.isBlank()) {
            out.add(m);
            String name = m.replaceAll("/+$", "");
            name = name.substring(name.lastIndexOf('/') + 1);
            String remote = data.s3DataBaseUrl();
            if (StorageUrl.parse(m, "data.metadata_url").isLocal() && remote != null && !remote.isBlank())
                out.add(remote.replaceAll("/+$", "") + "/" + name);
        }
        return new ArrayList<>(out);
    }

    private static List<ClipMetadata> usable(List<ClipMetadata> clips) {
        return clips.stream().filter(c -> c.error() == null && c.imageCount() > 0).toList();
    }
}
