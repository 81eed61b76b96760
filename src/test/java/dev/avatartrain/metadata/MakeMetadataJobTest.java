package dev.avatartrain.metadata;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.jobs.MakeMetadataJob;
import dev.avatartrain.jobs.MakeMetadataJob.Mode;
import dev.avatartrain.tensors.Npz;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

import static org.junit.jupiter.api.Assertions.*;

/** make-metadata on local trees: pairing and problems, the three formats, incremental scans, bad input. */
class MakeMetadataJobTest {
    @TempDir
    static Path tmp;
    static SparkSession spark;
    static final Path PYTHON = dev.avatartrain.testing.NumpyPython.python();

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("MakeMetadataJobTest")
                .config("spark.ui.enabled", "false").getOrCreate();
    }

    @AfterAll
    static void stop() {
        if (spark != null) spark.stop();
    }

    static Map<String, Object> run(Mode mode, String in, String out, String previous, boolean recheck, boolean strict) throws IOException {
        return MakeMetadataJob.run(spark, new MakeMetadataJob.Options(mode, in, out, previous, recheck, strict, "aligned-frames", "audio"));
    }

    /** clip-00..02 complete; clip-01 misses one audio file and has an extra audio; clip-03 empty; clip-04 no audio folder. */
    static Path problemTree(String name) throws IOException {
        Path root = FrameTrees.write(tmp.resolve(name), 3, 4);
        Files.delete(root.resolve("audio/clip-01/000002.npy"));
        Files.write(root.resolve("audio/clip-01/000009.npy"), new byte[1]);
        Files.writeString(root.resolve("aligned-frames/clip-00/Thumbs.db"), "x");
        Files.createDirectories(root.resolve("aligned-frames/clip-03"));
        Files.createDirectories(root.resolve("aligned-frames/clip-04"));
        Files.write(root.resolve("aligned-frames/clip-04/000000.png"), new byte[1]);
        Files.createDirectories(root.resolve("audio/clip-99"));
        Files.writeString(root.resolve("aligned-frames/README.txt"), "stray");
        Files.createSymbolicLink(root.resolve("aligned-frames/dangling"), root.resolve("no-such-dir"));
        return root;
    }

    @Test
    void scanPairsFramesAndReportsEveryProblemWithoutFailing() throws Exception {
        Path root = problemTree("problems");
        Path out = tmp.resolve("problems.parquet");
        Map<String, Object> s = run(Mode.scan, root.resolve("aligned-frames").toString(), out.toString(), null, false, false);
        List<ClipMetadata> clips = MetadataFiles.read(out.toString(), spark, null);
        assertEquals(List.of("clip-00", "clip-01", "clip-02", "clip-04"), clips.stream().map(ClipMetadata::folderName).toList());
        ClipMetadata c1 = clips.get(1);
        assertEquals(List.of("000000", "000001", "000002", "000003"), c1.imageNames());
        assertEquals(4, c1.audioCount());
        assertEquals(List.of("000002"), c1.imagesWithoutAudio());
        assertEquals(List.of("000009"), c1.audioWithoutImage());
        assertEquals(List.of("000000"), clips.get(3).imagesWithoutAudio());
        assertEquals(1, clips.get(0).ignoredFiles());
        assertEquals(13L, s.get("frames"));
        assertEquals(3L, s.get("ignored_non_frame_files"));
        @SuppressWarnings("unchecked") Map<String, Map<String, Object>> p = (Map<String, Map<String, Object>>) s.get("problems");
        assertEquals(List.of("clip-03"), p.get("empty_clips").get("examples"));
        assertEquals(2L, p.get("images_without_audio").get("count"));
        assertEquals(List.of("clip-01/000002", "clip-04/000000"), p.get("images_without_audio").get("examples"));
        assertEquals(List.of("clip-99"), p.get("audio_only_clips").get("examples"));
        String summary = Files.readString(Path.of(MakeMetadataJob.summaryUrl(out.toString())));
        assertTrue(summary.contains("\"empty_clips\""), summary);
    }

    /** A 0-byte PNG is not a frame (its size comes with the listing): reported, kept out of image_names. */
    @Test
    void zeroByteImagesAreReportedNotCountedAsFrames() throws Exception {
        Path root = FrameTrees.write(tmp.resolve("zero"), 2, 3);
        Files.write(root.resolve("aligned-frames/clip-00/000001.png"), new byte[0]);
        Path out = tmp.resolve("zero.parquet");
        Map<String, Object> s = run(Mode.scan, root.toString(), out.toString(), null, false, false);
        assertEquals(5L, s.get("frames"));
        @SuppressWarnings("unchecked") Map<String, Map<String, Object>> p = (Map<String, Map<String, Object>>) s.get("problems");
        assertEquals(1L, p.get("empty_image_files").get("count"));
        assertEquals(List.of("clip-00/000001.png"), p.get("empty_image_files").get("examples"));
        ClipMetadata c0 = MetadataFiles.read(out.toString(), spark, null).get(0);
        assertEquals(List.of("000000", "000002"), c0.imageNames());
        assertEquals(List.of("000001.png"), c0.emptyImages());
        assertThrows(BadInputException.class, () -> run(Mode.scan, root.toString(), tmp.resolve("zero-strict.json").toString(),
                null, false, true), "--strict counts them as problems");
        // an incremental scan lists such a clip again (the file may have been repaired in place)
        Files.write(root.resolve("aligned-frames/clip-00/000001.png"), new byte[]{1});
        Map<String, Object> again = run(Mode.scan, root.toString(), out.toString(), out.toString(), false, false);
        assertEquals(1, again.get("clips_listed"));
        assertEquals(6L, again.get("frames"));
    }

    @Test
    void strictFailsWritesOnlyTheSummaryAndKeepsTheOldOutput() throws Exception {
        Path root = problemTree("strict");
        Path out = tmp.resolve("strict.json");
        Files.writeString(out, "{\"folder_data\": []}");
        BadInputException e = assertThrows(BadInputException.class,
                () -> run(Mode.scan, root.toString(), out.toString(), null, false, true));
        assertTrue(e.getMessage().contains("--strict"), e.getMessage());
        assertEquals("{\"folder_data\": []}", Files.readString(out));
        assertTrue(Files.exists(Path.of(MakeMetadataJob.summaryUrl(out.toString()))));
    }

    @Test
    void jsonIsWhatPythonJsonDumpWrites() throws Exception {
        List<ClipMetadata> clips = List.of(ClipMetadata.imagesOnly("HDTF-ü \"q\"", List.of("000000", "000001")),
                ClipMetadata.imagesOnly("b", List.of()));
        String ours = MetadataFiles.toJson(clips);
        assertEquals("{\"folder_data\": [{\"folder_name\": \"HDTF-\\u00fc \\\"q\\\"\", \"image_count\": 2, \"image_names\": "
                + "[\"000000\", \"000001\"]}, {\"folder_name\": \"b\", \"image_count\": 0, \"image_names\": []}]}", ours);
        String py = python("import json,sys; print(json.dumps({'folder_data': [{'folder_name': 'HDTF-\\u00fc \"q\"', "
                + "'image_count': 2, 'image_names': ['000000', '000001']}, {'folder_name': 'b', 'image_count': 0, 'image_names': []}]}), end='')");
        assertEquals(py, ours);
    }

    @Test
    void jsonNpzParquetRoundTripsAndNpzMembersAreNumpysBytes() throws Exception {
        Path root = problemTree("formats");
        Path parquet = tmp.resolve("formats.parquet");
        run(Mode.scan, root.toString(), parquet.toString(), null, false, false);
        List<ClipMetadata> scanned = MetadataFiles.read(parquet.toString(), spark, null);
        Path npz = tmp.resolve("formats.npz");
        run(Mode.json, parquet.toString(), npz.toString(), null, false, false);
        assertEquals(scanned, MetadataFiles.read(npz.toString(), spark, null));
        Path json = tmp.resolve("formats.json");
        run(Mode.json, npz.toString(), json.toString(), null, false, false);
        Path npz2 = tmp.resolve("formats2.npz");
        run(Mode.json, json.toString(), npz2.toString(), null, false, false);
        List<ClipMetadata> fromJson = MetadataFiles.read(npz2.toString(), spark, null);
        for (int i = 0; i < scanned.size(); i++) {
            assertEquals(scanned.get(i).folderName(), fromJson.get(i).folderName());
            assertEquals(scanned.get(i).imageNames(), fromJson.get(i).imageNames());
        }
        Path parquet2 = tmp.resolve("formats2.parquet");
        run(Mode.json, json.toString(), parquet2.toString(), null, false, false);
        assertEquals(MetadataFiles.toJson(scanned), MetadataFiles.toJson(MetadataFiles.read(parquet2.toString(), spark, null)));
        assertEquals(MetadataFiles.toJson(scanned), Files.readString(json));

        Path pyDir = Files.createDirectories(tmp.resolve("numpy-members"));
        python("import numpy as np, sys\n"
                + "z = np.load(sys.argv[1], allow_pickle=False)\n"
                + "for k in z.files: np.save(sys.argv[2] + '/' + k + '.npy', z[k])\n"
                + "assert z['format_version'][0] == 1 and z['folder_name'].dtype.kind == 'U'\n"
                + "o = z['image_names_offsets']; assert list(z['image_names'][o[1]:o[2]]) == ['000000','000001','000002','000003']\n",
                npz.toString(), pyDir.toString());
        try (ZipInputStream zip = new ZipInputStream(Files.newInputStream(npz))) {
            int members = 0;
            for (ZipEntry e; (e = zip.getNextEntry()) != null; members++)
                assertArrayEquals(Files.readAllBytes(pyDir.resolve(e.getName())), zip.readAllBytes(), e.getName());
            assertEquals(Npz.read(npz).size(), members);
        }
    }

    @Test
    void incrementalListsOnlyNewAndChangedClips() throws Exception {
        Path root = FrameTrees.write(tmp.resolve("incr"), 6, 3);
        Path out = tmp.resolve("incr.parquet");
        Map<String, Object> full = run(Mode.scan, root.toString(), out.toString(), null, false, false);
        assertEquals(6, full.get("clips_listed"));
        FrameTrees.addClip(root, "clip-new", 2);
        Map<String, Object> inc = run(Mode.scan, root.toString(), out.toString(), out.toString(), false, false);
        assertEquals(1, inc.get("clips_listed"));
        assertEquals(6, inc.get("clips_kept_from_previous"));
        assertEquals(7, inc.get("clips"));
        // a changed clip (new frame: folder mtime moves) is listed again; a removed one is dropped
        Path changed = root.resolve("aligned-frames/clip-02");
        Files.write(changed.resolve("000003.png"), new byte[1]);
        Files.setLastModifiedTime(changed, FileTime.fromMillis(System.currentTimeMillis() + 5000));
        deleteTree(root.resolve("aligned-frames/clip-05"));
        Map<String, Object> inc2 = run(Mode.scan, root.toString(), out.toString(), out.toString(), false, false);
        assertEquals(1, inc2.get("clips_listed"));
        assertEquals(List.of("clip-05"), inc2.get("clips_removed_since_previous"));
        List<ClipMetadata> clips = MetadataFiles.read(out.toString(), spark, null);
        assertEquals(4, clips.stream().filter(c -> c.folderName().equals("clip-02")).findFirst().orElseThrow().imageCount());
        assertEquals(6, run(Mode.scan, root.toString(), out.toString(), out.toString(), true, false).get("clips_listed"));
        try (var leftovers = Files.list(tmp)) {
            assertEquals(List.of(), leftovers.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".incr")).toList());
        }
    }

    @Test
    void badInputIsASentenceNamingTheFile() throws Exception {
        Path nothing = tmp.resolve("no-tree");
        BadInputException e = assertThrows(BadInputException.class,
                () -> run(Mode.scan, nothing.toString(), tmp.resolve("x.json").toString(), null, false, false));
        assertTrue(e.getMessage().contains("aligned-frames") && e.getMessage().contains(nothing.toString()), e.getMessage());

        Path bad = tmp.resolve("bad.json");
        Files.writeString(bad, "{\"folder_data\": [{\"folder_name\": \"a\", \"image_count\": 3, \"image_names\": [\"0\"]}]}");
        e = assertThrows(BadInputException.class, () -> run(Mode.json, bad.toString(), tmp.resolve("y.npz").toString(), null, false, false));
        assertTrue(e.getMessage().contains("bad.json") && e.getMessage().contains("image_count"), e.getMessage());

        Files.writeString(bad, "{\"clips\": []}");
        e = assertThrows(BadInputException.class, () -> run(Mode.json, bad.toString(), tmp.resolve("y.npz").toString(), null, false, false));
        assertTrue(e.getMessage().contains("folder_data"), e.getMessage());

        Files.writeString(bad, "{not json");
        e = assertThrows(BadInputException.class, () -> run(Mode.json, bad.toString(), tmp.resolve("y.npz").toString(), null, false, false));
        assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());

        Path missing = tmp.resolve("missing.json");
        e = assertThrows(BadInputException.class, () -> run(Mode.json, missing.toString(), tmp.resolve("y.npz").toString(), null, false, false));
        assertTrue(e.getMessage().contains("missing.json"), e.getMessage());

        e = assertThrows(BadInputException.class, () -> run(Mode.scan, "nosuch://host/x", tmp.resolve("y.npz").toString(), null, false, false));
        assertTrue(e.getMessage().contains("nosuch://host/x") && e.getMessage().contains("no Hadoop FileSystem for 'nosuch://'")
                && e.getMessage().contains("fs.nosuch.impl"), e.getMessage());
    }

    @Test
    void trainingMetadataComesFromMetadataUrlElseFromAScan() throws Exception {
        Path root = FrameTrees.write(tmp.resolve("source"), 2, 3);
        Path json = tmp.resolve("source-meta.json");
        var data = new dev.avatartrain.config.DataConfig("", root.toString(), json.toString(), "out", "aligned-frames", "audio", 256);
        assertEquals(2, MetadataSource.load(spark, data, null).size()); // no file yet: scanned
        Files.writeString(json, MetadataFiles.toJson(List.of(ClipMetadata.imagesOnly("only", List.of("000000")))));
        assertEquals(List.of("only"), MetadataSource.load(spark, data, null).stream().map(ClipMetadata::folderName).toList());
    }

    static void deleteTree(Path p) throws IOException {
        try (var s = Files.walk(p)) {
            for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(q);
        }
    }

    static String python(String code, String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of(PYTHON.toString(), "-c", code));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), out);
        return out;
    }
}
