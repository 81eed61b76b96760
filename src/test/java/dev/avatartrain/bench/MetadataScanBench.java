package dev.avatartrain.bench;

import dev.avatartrain.jobs.MakeMetadataJob;
import dev.avatartrain.metadata.FrameTree;
import dev.avatartrain.storage.S3Proxy;
import dev.avatartrain.storage.Storage;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * The metadata scan's listing phase on a local tree and over s3proxy, with request counts, and an
 * incremental run that finds one new clip. {@code bench/metadata.sh} runs it next to find and a Python scan.
 * Args: TREE (created as CLIPS x FRAMES one-byte files if missing) WORKDIR [CLIPS FRAMES].
 */
public final class MetadataScanBench {
    public static void main(String[] args) throws Exception {
        Path tree = Path.of(args[0]);
        Path work = Files.createDirectories(Path.of(args[1]));
        int clips = args.length > 2 ? Integer.parseInt(args[2]) : 100;
        int frames = args.length > 3 ? Integer.parseInt(args[3]) : 751;
        if (!Files.isDirectory(tree.resolve("aligned-frames"))) writeTree(tree, clips, frames);

        // local disk
        long t00 = System.nanoTime();
        SparkSession localSpark = session("local[2]");
        double startup = (System.nanoTime() - t00) / 1e9;
        for (int run = 1; run <= 5; run++) {
            Map<String, Object> s = scan(localSpark, tree.toString(), work.resolve("local.json").toString(), null);
            System.out.printf("LOCAL run %d local[2]: spark start %.2f s, list clip folders %s s, list frames %s s, write json %s s, frames %s%n",
                    run, run == 1 ? startup : 0.0, s.get("seconds_list_clip_folders"), s.get("seconds_list_frames"), s.get("seconds_write"), s.get("frames"));
        }
        localSpark.stop();
        if (args.length > 4 && args[4].equals("local-only")) return;

        // S3 (s3proxy on loopback); the tree is placed in the bucket's folder directly (uploading 150k
        // objects through s3a would take longer than the benchmark itself)
        Path base = work.resolve("s3");
        if (!Files.isDirectory(base.resolve("bkt/tree"))) {
            Files.createDirectories(base.resolve("bkt"));
            new ProcessBuilder("cp", "-r", tree.toString(), base.resolve("bkt/tree").toString()).inheritIO().start().waitFor();
        }
        try (S3Proxy s3 = new S3Proxy(base)) {
            Map<String, String> settings = s3.s3aSettings();
            settings.put("fs.s3a.attempts.maximum", "3");
            for (String master : new String[]{"local[1]", "local[2]"}) {
                SparkSession spark = session(master, settings);
                Map<String, Object> s = scan(spark, "s3a://bkt/tree/", work.resolve("s3-" + master.charAt(6) + ".parquet").toString(), null);
                System.out.printf("S3 scan %s: list clip folders %s s, list frames %s s (%s tasks), requests %s%n", master,
                        s.get("seconds_list_clip_folders"), s.get("seconds_list_frames"), s.get("listing_tasks"), s.get("storage_requests"));
                spark.stop();
            }
            Configuration conf = new Configuration();
            settings.forEach(conf::set);
            try (Storage st = Storage.forUrl("s3a://bkt/tree/", conf)) {
                long t0 = System.nanoTime();
                FrameTree ft = new FrameTree("s3a://bkt/tree/", "aligned-frames", "audio");
                long n = 0;
                for (FrameTree.ClipFolder c : ft.listClips(st).clips()) n += ft.listClip(st, c).imageCount();
                System.out.printf("S3 sequential (one s3a client, driver only): %.2f s, %d frames, requests %s%n",
                        (System.nanoTime() - t0) / 1e9, n, st.requestCounts());
            }
            // incremental: one new clip in an otherwise unchanged tree
            Path prev = work.resolve("s3-2.parquet");
            new ProcessBuilder("cp", "-r", base.resolve("bkt/tree/aligned-frames/clip-000").toString(),
                    base.resolve("bkt/tree/aligned-frames/clip-new").toString()).inheritIO().start().waitFor();
            new ProcessBuilder("cp", "-r", base.resolve("bkt/tree/audio/clip-000").toString(),
                    base.resolve("bkt/tree/audio/clip-new").toString()).inheritIO().start().waitFor();
            SparkSession spark = session("local[2]", settings);
            Map<String, Object> s = scan(spark, "s3a://bkt/tree/", work.resolve("s3-incr.parquet").toString(), prev.toString());
            System.out.printf("S3 incremental: clips listed %s, kept %s, list %s s + %s s, requests %s%n", s.get("clips_listed"),
                    s.get("clips_kept_from_previous"), s.get("seconds_list_clip_folders"), s.get("seconds_list_frames"), s.get("storage_requests"));
            spark.stop();
            deleteTree(base.resolve("bkt/tree/aligned-frames/clip-new"));
            deleteTree(base.resolve("bkt/tree/audio/clip-new"));
        }
    }

    static SparkSession session(String master) {
        return session(master, Map.of());
    }

    static SparkSession session(String master, Map<String, String> hadoop) {
        SparkSession.Builder b = SparkSession.builder().master(master).appName("MetadataScanBench").config("spark.ui.enabled", "false");
        hadoop.forEach((k, v) -> b.config("spark.hadoop." + k, v));
        return b.getOrCreate();
    }

    static Map<String, Object> scan(SparkSession spark, String in, String out, String previous) throws IOException {
        java.io.PrintStream stdout = System.out;
        System.setOut(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
        try {
            return new TreeMap<>(MakeMetadataJob.run(spark, new MakeMetadataJob.Options(MakeMetadataJob.Mode.scan, in, out,
                    previous, false, false, "aligned-frames", "audio")));
        } finally {
            System.setOut(stdout);
        }
    }

    static void writeTree(Path root, int clips, int frames) throws IOException {
        for (int c = 0; c < clips; c++) {
            Path img = Files.createDirectories(root.resolve(String.format("aligned-frames/clip-%03d", c)));
            Path aud = Files.createDirectories(root.resolve(String.format("audio/clip-%03d", c)));
            for (int f = 0; f < frames; f++) {
                // one byte: a 0-byte image is not a frame (make-metadata reports it)
                Files.write(img.resolve(String.format("%06d.png", f)), new byte[1]);
                Files.write(aud.resolve(String.format("%06d.npy", f)), new byte[1]);
            }
        }
    }

    static void deleteTree(Path p) throws IOException {
        try (var s = Files.walk(p)) {
            for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(q);
        }
    }
}
