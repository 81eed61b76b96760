package dev.avatartrain.jobs;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

import com.fasterxml.jackson.databind.ObjectMapper;

import dev.avatartrain.config.AppConfig;
import dev.avatartrain.config.DataConfig;
import dev.avatartrain.config.ProjectPaths;
import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.generate.ClipGenerator;
import dev.avatartrain.metadata.ClipMetadata;
import dev.avatartrain.metadata.MetadataFiles;
import dev.avatartrain.models.unet.UNetConfig;
import dev.avatartrain.models.unet.UNetWeights;
import dev.avatartrain.storage.Storage;

/**
 * {@code avatar-train generate}: predicted frames for clips of the frame tree (data.yaml's bases: local, s3a, HTTPS) from a
 * checkpoint or exported weights. Clips are named on the command line or listed by a metadata file; they are spread over
 * Spark partitions ({@link ClipGenerator} per clip). Writes per clip {@code frames/}, {@code strip.png}, {@code generate.json}
 * under the output folder, and a summary {@code generate.json} there (clips, frames, mean mouth PSNR/SSIM).
 */
public final class GenerateJob {
    private static final Logger LOG = LoggerFactory.getLogger(GenerateJob.class);
    public static final String SUMMARY = "generate.json";

    private GenerateJob() {}

    /**
     * @param weights  a checkpoint folder or anything model.unet_pretrained_model_name_or_path accepts
     * @param clips    clip folder names (may be empty when {@code metadata} is given)
     * @param metadata a metadata file (make-metadata's output) listing the clips, or null
     */
    public record Options(String weights, List<String> clips, String metadata, String output) {}

    public static List<ClipGenerator.ClipReport> run(SparkSession spark, AppConfig config, Options o) throws IOException {
        List<String> clips = new ArrayList<>(); // each becomes a folder under --output: checked first
        for (String c : o.clips()) clips.add(dev.avatartrain.storage.SafePaths.name(c, "--clip"));
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        DataConfig data = config.data();
        if (o.metadata() != null) {
            for (ClipMetadata c : MetadataFiles.read(o.metadata(), spark, sc.hadoopConfiguration())) clips.add(c.folderName());
        }
        if (clips.isEmpty()) throw new BadInputException("generate: no clip given (--clip NAME or --metadata FILE)");
        UNetWeights.Source src = UNetWeights.locate(o.weights(), TrainJob.unetCache(), sc.hadoopConfiguration(),
                UNetWeights.hub(sc.hadoopConfiguration()));
        String configured = config.model().unetConfigFile();
        Path file = configured == null || configured.isBlank() ? null : ProjectPaths.resolve(configured);
        UNetConfig unet = src.config() != null ? UNetWeights.chooseConfig(src, file == null ? null : UNetConfig.read(file), String.valueOf(file))
                : UNetConfig.read(file != null ? file : ProjectPaths.resolve("configuration/unet/config.json"));
        String pe = src.positionalEncoding() != null ? src.positionalEncoding() : config.train().audioPositionalEncoding();
        if (src.positionalEncoding() != null && !pe.equals(config.train().audioPositionalEncoding())) {
            LOG.info("generate: note: the weights were trained with audio positional encoding " + pe
                    + " (train.audio_positional_encoding says " + config.train().audioPositionalEncoding() + "); using " + pe);
        }
        Storage frames = Storage.fromConfig(data, sc.hadoopConfiguration());
        Storage out = Storage.forUrl(o.output(), sc.hadoopConfiguration());
        String weights = src.spec().equals(o.weights()) && Files.exists(Path.of(o.weights())) ? Path.of(o.weights()).toAbsolutePath().toString() : o.weights();
        ClipGenerator g = new ClipGenerator(data.imageFolderName(), data.audioFolderName(), data.imageSize(),
                config.model().vaePretrainedModelNameOrPath(), weights, unet.toJson(), pe, config.train().audioLengthLeft(),
                config.train().audioLengthRight(), config.train().referenceMinDistance(), config.train().seed(), frames, out);
        int partitions = Math.max(1, Math.min(clips.size(), sc.defaultParallelism()));
        LOG.info("generate: " + clips.size() + " clips over " + partitions + " partitions with " + src.layout() + " weights "
                + src.weights() + " (audio positional encoding " + pe + ", references ≥ " + config.train().referenceMinDistance()
                + " frames away) → " + o.output());
        List<ClipGenerator.ClipReport> reports = sc.parallelize(clips, partitions).map(g::generate).collect();
        double psnr = 0, ssim = 0;
        long frameCount = 0;
        List<Map<String, Object>> perClip = new ArrayList<>();
        for (ClipGenerator.ClipReport r : reports) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("clip", r.clip());
            if (r.error() != null) {
                m.put("error", r.error());
                LOG.info("generate: " + r.clip() + " failed: " + r.error());
            } else {
                m.put("frames", r.frames());
                m.put("mean_mouth_psnr_db", r.meanPsnr());
                m.put("mean_mouth_ssim", r.meanSsim());
                for (ClipGenerator.FrameScore s : r.scores()) {
                    psnr += s.psnr();
                    ssim += s.ssim();
                }
                frameCount += r.frames();
                LOG.info(String.format("generate: %s: %d frames, mouth PSNR %.2f dB, SSIM %.3f → %s/%s/", r.clip(), r.frames(), r.meanPsnr(),
                        r.meanSsim(), o.output(), r.clip()));
            }
            perClip.add(m);
        }
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("weights", o.weights());
        summary.put("audio_positional_encoding", pe);
        summary.put("frames", frameCount);
        summary.put("mean_mouth_psnr_db", frameCount == 0 ? null : psnr / frameCount);
        summary.put("mean_mouth_ssim", frameCount == 0 ? null : ssim / frameCount);
        summary.put("clips", perClip);
        byte[] json = new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsBytes(summary);
        out.write(SUMMARY, s -> s.write(json));
        long failed = reports.stream().filter(r -> r.error() != null).count();
        if (failed == reports.size()) throw new BadInputException("generate: every clip failed (" + reports.get(0).error() + ")");
        return reports;
    }
}
