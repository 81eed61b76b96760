package dev.avatartrain.jobs;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import dev.avatartrain.config.AppConfig;
import dev.avatartrain.config.DataConfig;
import dev.avatartrain.data.ClipLatents;
import dev.avatartrain.data.FrameImages;
import dev.avatartrain.encode.LatentStore;
import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.metadata.ClipMetadata;
import dev.avatartrain.metadata.MetadataSource;
import dev.avatartrain.models.taesd.Taesd;
import dev.avatartrain.models.taesd.TaesdSource;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.tensors.Npy;

/**
 * {@code avatar-train encode}: the latent cache. Clips (whole clips per partition) are spread over the executors;
 * each frame is decoded and resized to {@code IMAGE_SIZE}, encoded by the frozen TAESD encoder as is and with its
 * lower half masked, and stored per clip with the frame's audio features ({@link LatentStore}). Clips already
 * encoded from the same files (names, sizes, times or ETags) with the same weights and size are skipped. A corrupt
 * or missing frame (or audio file) is skipped and reported with its path; the job goes on.
 */
public final class EncodeJob {
    private static final Logger LOG = LoggerFactory.getLogger(EncodeJob.class);
    /** Frames per forward pass of the encoder. */
    static final int ENCODE_BATCH = 16;
    static final String SKIPPED_REPORT = "skipped-frames.json";

    private EncodeJob() {}

    /** What happened to one clip. */
    public record ClipResult(String clip, String status, int frames, List<LatentStore.Skipped> skipped, String sourceHash,
                             String error, long[] audioShape) implements Serializable {}

    /** What the job did; {@code folder} is the latent folder relative to {@code output_dir}. */
    public record Summary(String folder, int encoded, int cached, int failed, long frames, List<LatentStore.Skipped> skipped) {}

    public static Summary run(SparkSession spark, AppConfig config) throws IOException {
        DataConfig data = config.data();
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        dev.avatartrain.gpu.GpuCheck.forDriver();
        List<ClipMetadata> clips = MetadataSource.load(spark, data, sc.hadoopConfiguration());
        if (clips.isEmpty()) throw new BadInputException("encode: the metadata lists no usable clip");
        Storage out = Storage.forUrl(data.outputDir(), sc.hadoopConfiguration());
        TaesdSource vae = TaesdSource.resolve(config.model().vaePretrainedModelNameOrPath(), vaeCache(), sc.hadoopConfiguration());
        LOG.info("encode: " + vae.describe());
        String folder = LatentStore.folder(vae.key(), data.imageSize());
        int partitions = Math.max(1, Math.min(clips.size(), workers(config, sc)));
        LOG.info("encode: " + clips.size() + " clips over " + partitions + " partitions → " + data.outputDir() + "/" + folder);
        Storage frames = Storage.fromConfig(data, sc.hadoopConfiguration());
        Encoder task = new Encoder(data, config.model().vaePretrainedModelNameOrPath(), vae.key(), frames, out, folder);
        long start = System.nanoTime();
        List<ClipResult> results = sc.parallelize(clips, partitions).mapPartitions(task::encode).collect();

        List<LatentStore.IndexEntry> index = new ArrayList<>();
        List<LatentStore.Skipped> skipped = new ArrayList<>();
        int encoded = 0, cached = 0, failed = 0;
        long frameCount = 0;
        Map<String, List<String>> leftOut = new java.util.LinkedHashMap<>(); // by reason: an endpoint named once
        for (ClipResult r : results) {
            skipped.addAll(r.skipped());
            switch (r.status()) {
                case "encoded" -> encoded++;
                case "cached" -> cached++;
                default -> {
                    failed++;
                    leftOut.computeIfAbsent(r.error(), k -> new ArrayList<>()).add(r.clip());
                    continue;
                }
            }
            frameCount += r.frames();
            index.add(new LatentStore.IndexEntry(r.clip(), LatentStore.clipFile(r.clip()), r.frames(), r.skipped().size(), r.sourceHash(),
                    r.audioShape()));
        }
        leftOut.forEach((why, names) -> LOG.info("encode: " + (names.size() == 1 ? "clip " + names.get(0)
                : names.size() + " clips (" + String.join(", ", names.stream().limit(20).toList())
                + (names.size() > 20 ? ", …" : "") + ")") + " left out: " + why));
        refuseMixedAudioShapes(out, folder, index);
        LatentStore.writeIndex(out, folder, new LatentStore.Index(vae.key(), data.imageSize(), index, LatentStore.INDEX_FORMAT_VERSION));
        byte[] effective = ("# Effective configuration (sha256 " + config.hash() + ")\n" + config.toYaml()).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        out.write(folder + "/" + AppConfig.EFFECTIVE_CONFIG_FILE, o -> o.write(effective));
        byte[] report = new com.fasterxml.jackson.databind.ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsBytes(skipped);
        out.write(folder + "/" + SKIPPED_REPORT, o -> o.write(report));
        double secs = (System.nanoTime() - start) / 1e9;
        LOG.info(String.format("encode: %d clips encoded, %d already cached, %d left out; %d frames in %.1f s", encoded, cached, failed, frameCount, secs));
        if (!skipped.isEmpty()) {
            LOG.info("encode: " + skipped.size() + " frames skipped (all listed in " + folder + "/" + SKIPPED_REPORT + "):");
            skipped.stream().limit(10).forEach(s -> LOG.info("  " + s.path() + ": " + s.reason()));
        }
        if (index.isEmpty()) throw new BadInputException("encode: no clip could be encoded (see the messages above)");
        return new Summary(folder, encoded, cached, failed, frameCount, skipped);
    }

    /**
     * Every clip's frames must carry audio features of one shape: the UNet's cross-attention reads them as
     * {@code [tokens, cross_attention_dim]}. A cache whose clips disagree gets no index (an earlier one is removed:
     * its clips were just re-encoded), and the clips of each shape are named.
     */
    static void refuseMixedAudioShapes(Storage out, String folder, List<LatentStore.IndexEntry> index) throws IOException {
        Map<String, List<String>> byShape = new java.util.TreeMap<>();
        for (LatentStore.IndexEntry e : index) byShape.computeIfAbsent(java.util.Arrays.toString(e.audioShape()), k -> new ArrayList<>()).add(e.clip());
        if (byShape.size() <= 1) return;
        out.delete(folder + "/" + LatentStore.INDEX);
        List<String> parts = new ArrayList<>();
        byShape.forEach((shape, clips) -> parts.add(shape + " in " + clips.size() + " clip(s): " + String.join(", ", clips.stream().limit(20).toList())
                + (clips.size() > 20 ? ", …" : "")));
        throw new BadInputException("encode: the clips' audio features have different shapes per frame (" + String.join("; ", parts)
                + "). Every clip needs one shape [tokens, dim] (dim = the UNet's cross_attention_dim); re-extract or remove the audio of the"
                + " odd clips and run encode again. No index.json was written under " + out.locations().get(0).child(folder) + ".");
    }

    static int workers(AppConfig config, JavaSparkContext sc) {
        int n = config.train().numWorkers();
        return n > 0 ? n : sc.defaultParallelism();
    }

    static Path vaeCache() {
        return Path.of(System.getProperty("java.io.tmpdir"), "avatar-train-vae");
    }

    /** The per-partition work; serialisable, holds no network (built once per executor JVM and weights). */
    record Encoder(DataConfig data, String vaeSpec, String vaeKey, Storage frames, Storage out, String folder) implements Serializable {
        private static final Map<String, Taesd.Model> ENCODERS = new ConcurrentHashMap<>();

        Iterator<ClipResult> encode(Iterator<ClipMetadata> clips) {
            // the GPU Spark gave this task (spark.task.resource.gpu.amount), checked and selected; a no-op on CPU
            dev.avatartrain.gpu.GpuCheck.forTask(org.apache.spark.TaskContext.get());
            List<ClipResult> results = new ArrayList<>();
            while (clips.hasNext()) results.add(encodeClip(clips.next()));
            return results.iterator();
        }

        ClipResult encodeClip(ClipMetadata clip) {
            String hash;
            try {
                hash = sourceHash(clip);
            } catch (IOException e) {
                return new ClipResult(clip.folderName(), "failed", 0, List.of(), "", "cannot list its files: " + e.getMessage(), null);
            }
            Map<String, String> existing = LatentStore.readClipMetadata(out, folder, clip.folderName());
            if (existing != null && hash.equals(existing.get("source_hash"))) {
                List<LatentStore.Skipped> skipped = readSkipped(existing.get("skipped"));
                return new ClipResult(clip.folderName(), "cached", clip.imageCount() - skipped.size(), skipped, hash, null,
                        LatentStore.readAudioShape(out, folder, clip.folderName()));
            }
            List<LatentStore.Skipped> skipped = new ArrayList<>();
            List<String> names = new ArrayList<>();
            List<float[]> images = new ArrayList<>();
            List<INDArray> audio = new ArrayList<>();
            java.util.Set<String> noAudio = new java.util.HashSet<>(clip.imagesWithoutAudio());
            String audioDir = data.audioFolderName() + "/" + clip.folderName() + "/";
            long[] audioShape = null;
            for (String frame : clip.imageNames()) {
                if (noAudio.contains(frame)) {
                    skipped.add(new LatentStore.Skipped(audioDir + frame + ".npy", "no audio features for this frame"));
                    continue;
                }
                String[] framePath = { // the file being read, for the report
                        data.imageFolderName() + "/" + clip.folderName() + "/" + frame};
                try {
                    byte[] bytes = readImage(clip.folderName(), frame, framePath);
                    float[] chw = FrameImages.decodeChw(bytes, framePath[0], data.imageSize());
                    INDArray a;
                    framePath[0] = audioDir + frame + ".npy"; // from here on, a failure is the audio file's
                    try (InputStream in = frames.open(audioDir + frame + ".npy")) {
                        a = asFloat(Npy.read(in, audioDir + frame + ".npy").toINDArray(null), audioDir + frame + ".npy");
                    }
                    if (!finite(a)) throw new BadInputException(audioDir + frame + ".npy: audio features hold NaN or"
                            + " infinite values; frame skipped.");
                    if (a.rank() == 1) a = a.reshape(1, a.length());
                    if (a.rank() != 2) throw new BadInputException(audioDir + frame + ".npy: audio features of shape "
                            + java.util.Arrays.toString(a.shape()) + "; expected [tokens, dim] or [dim]");
                    if (audioShape == null) audioShape = a.shape();
                    else if (!java.util.Arrays.equals(audioShape, a.shape())) throw new BadInputException(audioDir + frame
                            + ".npy: audio features of shape " + java.util.Arrays.toString(a.shape()) + " differ from the clip's "
                            + java.util.Arrays.toString(audioShape));
                    names.add(frame);
                    images.add(chw);
                    audio.add(a);
                } catch (BadInputException e) {
                    skipped.add(new LatentStore.Skipped(framePath[0], e.getMessage()));
                } catch (IOException e) {
                    skipped.add(new LatentStore.Skipped(framePath[0], "cannot read: " + e.getMessage()));
                }
            }
            if (names.size() < 2) {
                return new ClipResult(clip.folderName(), "failed", names.size(), skipped, hash,
                        names.size() + " usable frames (a clip needs 2: target and reference)", null);
            }
            Taesd.Model encoder = ENCODERS.computeIfAbsent(vaeKey, k -> {
                Taesd.Model m = TaesdSource.resolve(vaeSpec, vaeCache(), out.hadoopConf()).encoder();
                m.freeze();
                return m;
            });
            int size = data.imageSize();
            List<INDArray> latents = new ArrayList<>(), masked = new ArrayList<>();
            for (int from = 0; from < images.size(); from += ENCODE_BATCH) {
                List<float[]> batch = images.subList(from, Math.min(images.size(), from + ENCODE_BATCH));
                List<float[]> maskedBatch = batch.stream().map(x -> FrameImages.maskLowerHalf(x, size)).toList();
                synchronized (encoder) { // one graph per JVM; SameDiff inference on one instance is not thread-safe
                    latents.add(encoder.encode(FrameImages.stack(batch, size)));
                    masked.add(encoder.encode(FrameImages.stack(maskedBatch, size)));
                }
            }
            INDArray lat = Nd4j.concat(0, latents.toArray(INDArray[]::new));
            INDArray mas = Nd4j.concat(0, masked.toArray(INDArray[]::new));
            List<Integer> keep = new ArrayList<>(); // a frame whose latents are not finite is skipped like a bad file
            for (int i = 0; i < names.size(); i++) {
                if (finite(lat.slice(i)) && finite(mas.slice(i))) keep.add(i);
                else skipped.add(new LatentStore.Skipped(data.imageFolderName() + "/" + clip.folderName() + "/" + names.get(i),
                        "its latents hold NaN or infinite values (check the VAE weights); frame skipped."));
            }
            if (keep.size() < 2) {
                return new ClipResult(clip.folderName(), "failed", keep.size(), skipped, hash,
                        keep.size() + " usable frames (a clip needs 2: target and reference)", null);
            }
            if (keep.size() < names.size()) {
                long[] rows = keep.stream().mapToLong(Integer::longValue).toArray();
                lat = Nd4j.pullRows(lat.reshape(lat.size(0), -1), 1, keep.stream().mapToInt(Integer::intValue).toArray())
                        .reshape(concatShape(lat, rows.length));
                mas = Nd4j.pullRows(mas.reshape(mas.size(0), -1), 1, keep.stream().mapToInt(Integer::intValue).toArray())
                        .reshape(concatShape(mas, rows.length));
                List<String> n2 = new ArrayList<>();
                List<INDArray> a2 = new ArrayList<>();
                for (int i : keep) {
                    n2.add(names.get(i));
                    a2.add(audio.get(i));
                }
                names = n2;
                audio = a2;
            }
            ClipLatents result = new ClipLatents(clip.folderName(), names, lat, mas,
                    Nd4j.stack(0, audio.toArray(INDArray[]::new)));
            try {
                LatentStore.writeClip(out, folder, result, skipped, vaeKey, size, hash);
            } catch (IOException e) {
                return new ClipResult(clip.folderName(), "failed", 0, skipped, hash, "cannot write latents: " + e.getMessage(), null);
            }
            return new ClipResult(clip.folderName(), "encoded", names.size(), skipped, hash, null, audioShape);
        }

        private static long[] concatShape(INDArray x, long rows) {
            long[] shape = x.shape();
            shape[0] = rows;
            return shape;
        }

        private static boolean finite(INDArray x) {
            org.nd4j.linalg.api.buffer.DataType fp32 = org.nd4j.linalg.api.buffer.DataType.FLOAT;
            INDArray f = x.dataType() == fp32 ? x : x.castTo(fp32);
            for (float v : f.dup().data().asFloat()) if (!Float.isFinite(v)) return false;
            return true;
        }

        private static final java.util.Set<String> NOTED = ConcurrentHashMap.newKeySet();

        /** Audio features as float32; another numeric type is converted, with a one-line note per type and JVM. */
        private static INDArray asFloat(INDArray a, String file) {
            if (a.dataType() == org.nd4j.linalg.api.buffer.DataType.FLOAT) return a;
            if (NOTED.add(a.dataType().name())) {
                LoggerFactory.getLogger(EncodeJob.class).info("encode: note: audio features in " + file + " (and any others)"
                        + " are " + numpyName(a.dataType()) + "; converted to float32.");
            }
            return a.castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT);
        }

        private static String numpyName(org.nd4j.linalg.api.buffer.DataType t) {
            return switch (t) {
                case INT -> "int32";
                case LONG -> "int64";
                case DOUBLE -> "float64";
                case HALF -> "float16";
                default -> t.name().toLowerCase(java.util.Locale.ROOT);
            };
        }

        /** The frame's image bytes; {@code path[0]} receives the path read. PNG first (the tree's format), then JPEG. */
        private byte[] readImage(String clip, String frame, String[] path) throws IOException {
            String base = data.imageFolderName() + "/" + clip + "/" + frame;
            for (String ext : new String[]{".png", ".jpg", ".jpeg"}) {
                path[0] = base + ext;
                try {
                    return frames.readAll(path[0]);
                } catch (FileNotFoundException e) {
                    // try the next extension
                }
            }
            path[0] = base + ".png";
            throw new FileNotFoundException(base + ".png (nor .jpg/.jpeg) does not exist");
        }

        private static List<LatentStore.Skipped> readSkipped(String json) {
            try {
                return List.of(new com.fasterxml.jackson.databind.ObjectMapper().readValue(json, LatentStore.Skipped[].class));
            } catch (IOException | RuntimeException e) {
                return List.of();
            }
        }

        /**
         * Identifies what the clip is encoded from: each frame's image and audio file by name and content version
         * (size and modification time, or size and ETag on object stores; {@link Storage.Entry#version()}), from
         * one listing of each of the clip's two folders. A clip that gained or lost frames, or whose files were
         * replaced or repaired, gets a new hash and is encoded again; the others stay cached.
         */
        private String sourceHash(ClipMetadata clip) throws IOException {
            // local first: a clip whose every file is on local disk never touches the remote
            Map<String, Storage.Entry> images = frames.listEntries(data.imageFolderName() + "/" + clip.folderName(), true,
                    local -> clip.imageNames().stream().allMatch(n -> local.containsKey(n + ".png")
                            || local.containsKey(n + ".jpg") || local.containsKey(n + ".jpeg")));
            java.util.Set<String> noAudio = new java.util.HashSet<>(clip.imagesWithoutAudio());
            Map<String, Storage.Entry> audio;
            try {
                audio = frames.listEntries(data.audioFolderName() + "/" + clip.folderName(), true,
                        local -> clip.imageNames().stream()
                                .allMatch(n -> noAudio.contains(n) || local.containsKey(n + ".npy")));
            } catch (FileNotFoundException e) {
                audio = Map.of();
            }
            try {
                MessageDigest md = MessageDigest.getInstance("SHA-256");
                md.update("source-v2\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
                for (String n : clip.imageNames()) {
                    StringBuilder line = new StringBuilder(n);
                    for (String ext : new String[]{".png", ".jpg", ".jpeg"}) { // the file readImage reads
                        Storage.Entry e = images.get(n + ext);
                        if (e != null) {
                            line.append(' ').append(ext).append(' ').append(e.version());
                            break;
                        }
                    }
                    Storage.Entry a = audio.get(n + ".npy");
                    line.append(" npy ").append(a == null ? "-" : a.version()).append('\n');
                    md.update(line.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
                }
                md.update(("noaudio:" + clip.imagesWithoutAudio()).getBytes(java.nio.charset.StandardCharsets.UTF_8));
                return HexFormat.of().formatHex(md.digest()).substring(0, 16);
            } catch (java.security.NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            }
        }
    }
}
