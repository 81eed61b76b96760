package dev.avatartrain.jobs;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.metadata.ClipMetadata;
import dev.avatartrain.metadata.FrameTree;
import dev.avatartrain.metadata.MetadataFiles;
import dev.avatartrain.metadata.MetadataScan;
import dev.avatartrain.storage.Storage;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.SparkSession;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** {@code avatar-train make-metadata}: scan a frame tree (or convert a metadata file) and write metadata plus a summary. */
public final class MakeMetadataJob {
    private static final Logger LOG = LoggerFactory.getLogger(MakeMetadataJob.class);
    private MakeMetadataJob() {}

    public enum Mode { scan, json }

    public record Options(Mode mode, String input, String output, String incremental, boolean recheckAll, boolean strict,
                          String imageFolder, String audioFolder) {}

    private static final int EXAMPLES = 10;

    /** Runs the job; returns the summary that was printed and written next to the output. */
    public static Map<String, Object> run(SparkSession spark, Options o) throws IOException {
        Configuration hadoop = spark.sparkContext().hadoopConfiguration();
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("mode", o.mode().name());
        summary.put("input", o.input());
        summary.put("output", o.output());
        summary.put("format", MetadataFiles.formatOf(o.output()).name().toLowerCase());
        List<ClipMetadata> clips;
        Map<String, Object> problems = new LinkedHashMap<>();
        int problemCount = 0;
        if (o.mode() == Mode.json) {
            clips = MetadataFiles.read(o.input(), spark, hadoop);
        } else {
            Map<String, ClipMetadata> previous = new LinkedHashMap<>();
            if (o.incremental() != null) {
                try {
                    for (ClipMetadata c : MetadataFiles.read(o.incremental(), spark, hadoop)) previous.put(c.folderName(), c);
                } catch (BadInputException e) {
                    if (!(e.getCause() instanceof java.io.FileNotFoundException)) throw e;
                    LOG.info("make-metadata: no previous output at " + o.incremental() + "; scanning everything");
                }
                summary.put("incremental_from", o.incremental());
            }
            FrameTree tree = new FrameTree(o.input(), o.imageFolder(), o.audioFolder());
            MetadataScan.Result r;
            try (Storage storage = Storage.forUrl(tree.root(), hadoop)) {
                r = MetadataScan.run(spark, tree, storage, previous, o.recheckAll());
            }
            clips = new ArrayList<>();
            List<String> empty = new ArrayList<>();
            List<String> failed = new ArrayList<>();
            List<String> noAudio = new ArrayList<>();
            List<String> noImage = new ArrayList<>();
            List<String> emptyImages = new ArrayList<>();
            long noAudioFrames = 0, noImageFrames = 0, ignored = 0, emptyImageCount = 0;
            for (ClipMetadata c : r.clips()) {
                if (c.error() != null) { failed.add(c.folderName() + ": " + c.error()); continue; }
                emptyImageCount += c.emptyImages().size();
                for (String f : c.emptyImages()) if (emptyImages.size() < EXAMPLES) emptyImages.add(c.folderName() + "/" + f);
                if (c.imageCount() == 0) { empty.add(c.folderName()); continue; }
                clips.add(c);
                ignored += c.ignoredFiles();
                noAudioFrames += c.imagesWithoutAudio().size();
                noImageFrames += c.audioWithoutImage().size();
                for (String f : c.imagesWithoutAudio()) if (noAudio.size() < EXAMPLES) noAudio.add(c.folderName() + "/" + f);
                for (String f : c.audioWithoutImage()) if (noImage.size() < EXAMPLES) noImage.add(c.folderName() + "/" + f);
            }
            problems.put("empty_clips", problem(empty.size(), empty));
            problems.put("unreadable_clips", problem(failed.size(), failed));
            problems.put("empty_image_files", problem(emptyImageCount, emptyImages));
            problems.put("images_without_audio", problem(noAudioFrames, noAudio));
            problems.put("audio_without_image", problem(noImageFrames, noImage));
            problems.put("audio_only_clips", problem(r.topLevel().audioOnlyClips().size(), r.topLevel().audioOnlyClips()));
            problems.put("stray_files", problem(r.topLevel().strayFiles().size(), r.topLevel().strayFiles()));
            problemCount = empty.size() + failed.size() + (int) Math.min(Integer.MAX_VALUE, noAudioFrames + noImageFrames + emptyImageCount)
                    + r.topLevel().audioOnlyClips().size();
            summary.put("ignored_non_frame_files", ignored + r.topLevel().strayFiles().size());
            summary.put("clips_found", r.topLevel().clips().size());
            summary.put("clips_listed", r.listedClips());
            summary.put("clips_kept_from_previous", r.keptClips());
            summary.put("clips_removed_since_previous", r.removedClips());
            summary.put("listing_tasks", r.partitions());
            summary.put("storage_requests", r.requests());
            summary.put("seconds_list_clip_folders", round(r.topLevelSeconds()));
            summary.put("seconds_list_frames", round(r.clipsSeconds()));
        }
        long frames = 0, audio = 0;
        for (ClipMetadata c : clips) { frames += c.imageCount(); audio += c.audioCount(); }
        summary.put("clips", clips.size());
        summary.put("frames", frames);
        summary.put("audio_files", audio);
        summary.put("problems", problems);

        boolean failStrict = o.strict() && problemCount > 0;
        if (!failStrict) {
            long t = System.nanoTime();
            MetadataFiles.write(clips, o.output(), spark, hadoop);
            summary.put("seconds_write", round((System.nanoTime() - t) / 1e9));
        }
        summary.put("written", !failStrict);
        String json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(summary);
        LOG.info("make-metadata summary:\n" + json);
        String summaryUrl = summaryUrl(o.output());
        try (Storage s = Storage.forUrl(summaryUrl, hadoop)) {
            s.write("", out -> out.write((json + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        }
        if (failStrict)
            throw new BadInputException("make-metadata --strict: " + problemCount + " problems in " + o.input()
                    + " (see " + summaryUrl + "); " + o.output() + " was not written.");
        return summary;
    }

    /** {@code OUT.summary.json}, next to the output. */
    public static String summaryUrl(String output) {
        return output.replaceAll("/+$", "") + ".summary.json";
    }

    private static Map<String, Object> problem(long count, List<String> examples) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("count", count);
        m.put("examples", examples.subList(0, Math.min(EXAMPLES, examples.size())));
        return m;
    }

    private static double round(double s) {
        return Math.round(s * 1000) / 1000.0;
    }
}
