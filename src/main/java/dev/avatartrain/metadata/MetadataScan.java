package dev.avatartrain.metadata;

import dev.avatartrain.storage.Storage;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.CollectionAccumulator;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The parallel scan: clip folders are listed on the driver, each clip's frames on the executors (listing is
 * what is slow on S3: one LIST request per 1000 keys, no per-file requests). A tree on local disk is listed
 * on the driver alone. Incremental scans list in full
 * only clips that are new, had empty images, or whose folder modification time changed where the storage has one.
 */
public final class MetadataScan {
    private MetadataScan() {}

    /** What a scan found. {@code clips} are sorted by name and include failed ones (with {@code error} set). */
    public record Result(List<ClipMetadata> clips, FrameTree.TopLevel topLevel, int listedClips, int keptClips,
                         List<String> removedClips, int partitions, Map<String, Long> requests,
                         double topLevelSeconds, double clipsSeconds) {}

    /**
     * @param previous clips of a previous output by name (empty: full scan)
     * @param recheckAll list every clip even when the previous output has it unchanged
     */
    public static Result run(SparkSession spark, FrameTree tree, Storage storage, Map<String, ClipMetadata> previous,
                             boolean recheckAll) {
        long t0 = System.nanoTime();
        FrameTree.TopLevel top = tree.listClips(storage);
        Map<String, Long> requests = new TreeMap<>(storage.requestCounts());
        long t1 = System.nanoTime();

        List<ClipMetadata> kept = new ArrayList<>();
        List<FrameTree.ClipFolder> toList = new ArrayList<>();
        for (FrameTree.ClipFolder c : top.clips()) {
            ClipMetadata prev = previous.get(c.name());
            boolean unchanged = prev != null && prev.error() == null && prev.imageCount() > 0 && prev.emptyImages().isEmpty()
                    && (c.mtime() < 0 || prev.listedMtime() < 0 || c.mtime() == prev.listedMtime());
            if (unchanged && !recheckAll) kept.add(prev);
            else toList.add(c);
        }
        List<String> removed = new ArrayList<>();
        java.util.Set<String> present = new java.util.HashSet<>();
        for (FrameTree.ClipFolder c : top.clips()) present.add(c.name());
        for (String name : previous.keySet()) if (!present.contains(name)) removed.add(name);
        removed.sort(null);

        List<ClipMetadata> listed = new ArrayList<>();
        int partitions = 0;
        boolean localDisk = storage.locations().stream().allMatch(dev.avatartrain.storage.StorageUrl::isLocal);
        if (localDisk) {
            // A tree on the driver's disk is listed on the driver: local listing takes microseconds per folder
            // (less than scheduling a task), and executors on other machines would not see this disk.
            for (FrameTree.ClipFolder c : toList) listed.add(tree.listClip(storage, c));
        } else if (!toList.isEmpty()) {
            JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
            partitions = Math.min(toList.size(), Math.max(1, jsc.defaultParallelism() * 3));
            CollectionAccumulator<Map<String, Long>> acc = jsc.sc().collectionAccumulator("storage requests");
            listed = jsc.parallelize(toList, partitions).mapPartitions(new ListClips(tree, storage, acc)).collect();
            for (Map<String, Long> m : acc.value()) m.forEach((k, v) -> requests.merge(k, v, Long::sum));
        }
        long t2 = System.nanoTime();

        List<ClipMetadata> all = new ArrayList<>(kept);
        all.addAll(listed);
        all.sort(Comparator.comparing(ClipMetadata::folderName));
        return new Result(all, top, toList.size(), kept.size(), removed, partitions, requests,
                (t1 - t0) / 1e9, (t2 - t1) / 1e9);
    }

    /** Runs on an executor: one Storage (and FileSystem) per partition, closed at the end. */
    private record ListClips(FrameTree tree, Storage storage, CollectionAccumulator<Map<String, Long>> requests)
            implements org.apache.spark.api.java.function.FlatMapFunction<Iterator<FrameTree.ClipFolder>, ClipMetadata> {
        @Override
        public Iterator<ClipMetadata> call(Iterator<FrameTree.ClipFolder> clips) {
            List<ClipMetadata> out = new ArrayList<>();
            // a deserialised copy: its own FileSystem instances and request counters
            try (Storage s = storage) {
                while (clips.hasNext()) out.add(tree.listClip(s, clips.next()));
                requests.add(new HashMap<>(s.requestCounts()));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return out.iterator();
        }
    }
}
