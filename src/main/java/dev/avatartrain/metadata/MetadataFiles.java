package dev.avatartrain.metadata;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.storage.SafePaths;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.storage.StorageUrl;
import dev.avatartrain.tensors.Npy;
import dev.avatartrain.tensors.Npz;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;

/**
 * The metadata file formats, chosen by the output's name: {@code .json} (the original
 * {@code {"folder_data": [...]}} format, written byte for byte as Python's {@code json.dump} does),
 * {@code .npz} (layout in docs/metadata.md) and anything else a Parquet directory. Every write replaces an
 * existing output only once the new one is complete.
 */
public final class MetadataFiles {
    public static final int NPZ_FORMAT_VERSION = 1;

    private MetadataFiles() {}

    public enum Format { JSON, NPZ, PARQUET }

    public static Format formatOf(String url) {
        String u = url.replaceAll("/+$", "").toLowerCase(Locale.ROOT);
        if (u.endsWith(".json")) return Format.JSON;
        if (u.endsWith(".npz")) return Format.NPZ;
        return Format.PARQUET;
    }

    public static StructType schema() {
        var strings = DataTypes.createArrayType(DataTypes.StringType, false);
        return new StructType()
                .add("folder_name", DataTypes.StringType, false)
                .add("image_count", DataTypes.IntegerType, false)
                .add("image_names", strings, false)
                .add("audio_count", DataTypes.IntegerType, false)
                .add("images_without_audio", strings, false)
                .add("audio_without_image", strings, false)
                .add("listed_mtime", DataTypes.LongType, false)
                .add("ignored_files", DataTypes.IntegerType, false)
                .add("empty_images", strings, false);
    }

    /** The metadata DataFrame: one row per clip. */
    public static Dataset<Row> toDataFrame(SparkSession spark, List<ClipMetadata> clips) {
        List<Row> rows = new ArrayList<>(clips.size());
        for (ClipMetadata c : clips) {
            rows.add(RowFactory.create(c.folderName(), c.imageCount(), c.imageNames().toArray(new String[0]),
                    c.audioCount(), c.imagesWithoutAudio().toArray(new String[0]),
                    c.audioWithoutImage().toArray(new String[0]), c.listedMtime(), c.ignoredFiles(),
                    c.emptyImages().toArray(new String[0])));
        }
        return spark.createDataFrame(rows, schema());
    }

    // ---------------------------------------------------------------- write

    public static void write(List<ClipMetadata> clips, String url, SparkSession spark, Configuration hadoop) throws IOException {
        switch (formatOf(url)) {
            case JSON -> {
                byte[] bytes = toJson(clips).getBytes(StandardCharsets.UTF_8);
                try (Storage s = Storage.forUrl(url, hadoop)) {
                    s.write("", out -> out.write(bytes));
                }
            }
            case NPZ -> writeNpz(clips, url, hadoop);
            case PARQUET -> writeParquet(clips, url, spark, hadoop);
        }
    }

    /** The original format exactly as {@code json.dump(obj, f)} writes it (default separators, ASCII escapes). */
    public static String toJson(List<ClipMetadata> clips) {
        StringBuilder b = new StringBuilder(64 + clips.size() * 64);
        b.append("{\"folder_data\": [");
        for (int i = 0; i < clips.size(); i++) {
            ClipMetadata c = clips.get(i);
            if (i > 0) b.append(", ");
            b.append("{\"folder_name\": ");
            pyString(b, c.folderName());
            b.append(", \"image_count\": ").append(c.imageCount()).append(", \"image_names\": [");
            for (int k = 0; k < c.imageNames().size(); k++) {
                if (k > 0) b.append(", ");
                pyString(b, c.imageNames().get(k));
            }
            b.append("]}");
        }
        return b.append("]}").toString();
    }

    private static void pyString(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            switch (ch) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                default -> {
                    if (ch < 0x20 || ch > 0x7e) b.append(String.format("\\u%04x", (int) ch));
                    else b.append(ch);
                }
            }
        }
        b.append('"');
    }

    /** The NPZ arrays (layout: docs/metadata.md). */
    public static LinkedHashMap<String, Object> toNpzArrays(List<ClipMetadata> clips) {
        int n = clips.size();
        String[] names = new String[n];
        long[] imageCount = new long[n], audioCount = new long[n], mtime = new long[n], ignored = new long[n];
        for (int i = 0; i < n; i++) {
            ClipMetadata c = clips.get(i);
            names[i] = c.folderName();
            imageCount[i] = c.imageCount();
            audioCount[i] = c.audioCount();
            mtime[i] = c.listedMtime();
            ignored[i] = c.ignoredFiles();
        }
        LinkedHashMap<String, Object> a = new LinkedHashMap<>();
        a.put("format_version", Nd4j.createFromArray(new long[]{NPZ_FORMAT_VERSION}));
        a.put("folder_name", names);
        a.put("image_count", Nd4j.createFromArray(imageCount));
        ragged(a, "image_names", clips.stream().map(ClipMetadata::imageNames).toList());
        a.put("audio_count", Nd4j.createFromArray(audioCount));
        ragged(a, "images_without_audio", clips.stream().map(ClipMetadata::imagesWithoutAudio).toList());
        ragged(a, "audio_without_image", clips.stream().map(ClipMetadata::audioWithoutImage).toList());
        a.put("listed_mtime", Nd4j.createFromArray(mtime));
        a.put("ignored_files", Nd4j.createFromArray(ignored));
        ragged(a, "empty_images", clips.stream().map(ClipMetadata::emptyImages).toList());
        return a;
    }

    private static void ragged(LinkedHashMap<String, Object> a, String name, List<List<String>> lists) {
        long[] offsets = new long[lists.size() + 1];
        List<String> flat = new ArrayList<>();
        for (int i = 0; i < lists.size(); i++) {
            flat.addAll(lists.get(i));
            offsets[i + 1] = flat.size();
        }
        a.put(name, flat.toArray(new String[0]));
        a.put(name + "_offsets", Nd4j.createFromArray(offsets));
    }

    private static void writeNpz(List<ClipMetadata> clips, String url, Configuration hadoop) throws IOException {
        StorageUrl u = StorageUrl.parse(url, "--output");
        LinkedHashMap<String, Object> arrays = toNpzArrays(clips);
        if (u.isLocal()) {
            Npz.write(u.localPath(), arrays);
            return;
        }
        java.nio.file.Path tmp = Files.createTempFile("metadata", ".npz");
        try {
            Npz.write(tmp, arrays);
            try (Storage s = Storage.forUrl(url, hadoop)) {
                s.write("", out -> Files.copy(tmp, out));
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** A new version folder, then the pointer naming it ({@link ParquetVersions}): readers never see a partial file. */
    private static void writeParquet(List<ClipMetadata> clips, String url, SparkSession spark, Configuration hadoop) throws IOException {
        StorageUrl u = StorageUrl.parse(url, "--output");
        configure(spark, u);
        ParquetVersions.write(url, hadoop, folder -> toDataFrame(spark, clips).coalesce(1).write().parquet(folder));
    }

    /** Spark's own reader and writer see the URL's per-bucket settings and the storage time-outs. */
    private static void configure(SparkSession spark, StorageUrl u) {
        Configuration c = spark.sparkContext().hadoopConfiguration();
        u.bucketSettings().forEach((k, v) -> {
            if (c.get(k) == null) c.set(k, v);
        });
        Storage.applyDefaults(c);
    }

    // ---------------------------------------------------------------- read

    /** Reads metadata in any of the three formats. */
    public static List<ClipMetadata> read(String url, SparkSession spark, Configuration hadoop) {
        Format f = formatOf(url);
        try {
            if (f == Format.PARQUET) return readParquet(url, spark, hadoop);
            byte[] bytes;
            try (Storage s = Storage.forUrl(url, hadoop)) {
                bytes = s.readAll("");
            }
            return f == Format.JSON ? fromJson(bytes, url) : fromNpz(bytes, url);
        } catch (SafePaths.UnsafeNameException e) {
            throw new BadInputException(url + ": " + e.getMessage(), e);
        } catch (java.io.FileNotFoundException e) {
            throw new BadInputException(url + ": metadata file not found (" + e.getMessage() + ")", e);
        } catch (IOException e) {
            throw new BadInputException(url + ": cannot read metadata: " + e.getMessage(), e);
        }
    }

    public static List<ClipMetadata> fromJson(byte[] bytes, String file) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(bytes);
        } catch (IOException e) {
            throw new BadInputException(file + ": not valid JSON: " + e.getMessage() + ".", e);
        }
        JsonNode data = root == null ? null : root.get("folder_data");
        if (data == null || !data.isArray())
            throw new BadInputException(file + ": expected {\"folder_data\": [...]} (the make_metadata format), found no folder_data list.");
        List<ClipMetadata> out = new ArrayList<>();
        for (int i = 0; i < data.size(); i++) {
            JsonNode c = data.get(i);
            String where = file + ": folder_data[" + i + "]";
            JsonNode name = c.get("folder_name");
            JsonNode images = c.get("image_names");
            if (name == null || !name.isTextual()) throw new BadInputException(where + ": folder_name missing or not a string.");
            if (images == null || !images.isArray()) throw new BadInputException(where + " (" + name.asText() + "): image_names missing or not a list.");
            List<String> names = new ArrayList<>(images.size());
            for (JsonNode n : images) {
                if (!n.isTextual()) throw new BadInputException(where + " (" + name.asText() + "): image_names holds a non-string " + n + ".");
                names.add(n.asText());
            }
            JsonNode count = c.get("image_count");
            if (count != null && (!count.canConvertToInt() || count.asInt() != names.size()))
                throw new BadInputException(where + " (" + name.asText() + "): image_count " + count + " but image_names has " + names.size() + " entries.");
            out.add(ClipMetadata.imagesOnly(name.asText(), names));
        }
        return out;
    }

    public static List<ClipMetadata> fromNpz(byte[] bytes, String file) throws IOException {
        LinkedHashMap<String, Npy.NpyArray> a = Npz.read(new ByteArrayInputStream(bytes), file);
        long version = longs(a, "format_version", file)[0];
        if (version > NPZ_FORMAT_VERSION)
            throw new BadInputException(file + ": metadata format_version " + version + " is newer than this program reads (" + NPZ_FORMAT_VERSION + "); upgrade avatar-train.");
        String[] names = strings(a, "folder_name", file);
        int n = names.length;
        List<List<String>> images = unragged(a, "image_names", n, file);
        List<List<String>> noAudio = unragged(a, "images_without_audio", n, file);
        List<List<String>> noImage = unragged(a, "audio_without_image", n, file);
        // added after format_version 1 was first written: absent in older files
        List<List<String>> empty = a.containsKey("empty_images") ? unragged(a, "empty_images", n, file)
                : java.util.Collections.nCopies(n, List.of());
        long[] audio = longs(a, "audio_count", file), mtime = longs(a, "listed_mtime", file), ignored = longs(a, "ignored_files", file);
        if (audio.length != n || mtime.length != n || ignored.length != n)
            throw new BadInputException(file + ": per-clip arrays disagree in length with folder_name (" + n + ").");
        List<ClipMetadata> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++)
            out.add(new ClipMetadata(names[i], images.get(i), (int) audio[i], noAudio.get(i), noImage.get(i), mtime[i], (int) ignored[i], empty.get(i), null));
        return out;
    }

    private static Npy.NpyArray member(LinkedHashMap<String, Npy.NpyArray> a, String name, String file) {
        Npy.NpyArray m = a.get(name);
        if (m == null) throw new BadInputException(file + ": metadata archive has no '" + name + "' array (layout: docs/metadata.md).");
        return m;
    }

    private static long[] longs(LinkedHashMap<String, Npy.NpyArray> a, String name, String file) {
        Npy.NpyArray m = member(a, name, file);
        if (m.isStrings()) throw new BadInputException(file + ": '" + name + "' should be int64, found strings.");
        return m.toINDArray(DataType.LONG).reshape(-1).toLongVector();
    }

    private static String[] strings(LinkedHashMap<String, Npy.NpyArray> a, String name, String file) {
        Npy.NpyArray m = member(a, name, file);
        if (!m.isStrings()) throw new BadInputException(file + ": '" + name + "' should be a unicode string array.");
        return m.toStrings();
    }

    private static List<List<String>> unragged(LinkedHashMap<String, Npy.NpyArray> a, String name, int n, String file) {
        String[] flat = strings(a, name, file);
        long[] off = longs(a, name + "_offsets", file);
        if (off.length != n + 1 || off[0] != 0 || off[n] != flat.length)
            throw new BadInputException(file + ": '" + name + "_offsets' must have " + (n + 1) + " entries from 0 to " + flat.length + ".");
        List<List<String>> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            if (off[i + 1] < off[i]) throw new BadInputException(file + ": '" + name + "_offsets' decreases at " + i + ".");
            out.add(Arrays.asList(flat).subList((int) off[i], (int) off[i + 1]));
        }
        return out;
    }

    private static List<ClipMetadata> readParquet(String url, SparkSession spark, Configuration hadoop) throws IOException {
        configure(spark, StorageUrl.parse(url, "metadata"));
        return ParquetVersions.read(url, hadoop, folder -> readParquetFolder(url, folder, spark));
    }

    private static List<ClipMetadata> readParquetFolder(String url, String folder, SparkSession spark) {
        Dataset<Row> df;
        try {
            df = spark.read().parquet(folder);
        } catch (Exception e) {
            if (e.getMessage() != null && e.getMessage().contains("Path does not exist"))
                throw new BadInputException(url + ": metadata not found (" + e.getMessage() + ")", new java.io.FileNotFoundException(folder));
            throw new BadInputException(url + ": cannot read a Parquet metadata directory: " + e.getMessage(), e);
        }
        for (String col : new String[]{"folder_name", "image_names"})
            if (!Arrays.asList(df.columns()).contains(col))
                throw new BadInputException(url + ": Parquet metadata has no '" + col + "' column (has " + String.join(", ", df.columns()) + ").");
        List<String> cols = Arrays.asList(df.columns());
        List<ClipMetadata> out = new ArrayList<>();
        for (Row r : df.collectAsList()) {
            List<String> images = r.getList(r.fieldIndex("image_names"));
            int audio = cols.contains("audio_count") ? r.getInt(r.fieldIndex("audio_count")) : images.size();
            List<String> na = cols.contains("images_without_audio") ? r.getList(r.fieldIndex("images_without_audio")) : List.of();
            List<String> ni = cols.contains("audio_without_image") ? r.getList(r.fieldIndex("audio_without_image")) : List.of();
            long mtime = cols.contains("listed_mtime") ? r.getLong(r.fieldIndex("listed_mtime")) : -1;
            int ignored = cols.contains("ignored_files") ? r.getInt(r.fieldIndex("ignored_files")) : 0;
            List<String> empty = cols.contains("empty_images") ? r.getList(r.fieldIndex("empty_images")) : List.of();
            out.add(new ClipMetadata(r.getString(r.fieldIndex("folder_name")), images, audio, na, ni, mtime, ignored, empty, null));
        }
        out.sort(java.util.Comparator.comparing(ClipMetadata::folderName));
        return out;
    }
}
