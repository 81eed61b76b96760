package dev.avatartrain.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

import dev.avatartrain.config.ProjectPaths;
import dev.avatartrain.data.ClipLatents;
import dev.avatartrain.encode.LatentStore;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.train.unet.UNetTask;

/** A small latent cache of random clips (4 channels, 4×4 latents, audio [2, 32]) and the tiny-UNet task over it. */
public final class TinyLatents {
    static final String FOLDER = "latents/test-32px";

    private TinyLatents() {}

    public static Storage write(Path dir, int clips, int frames, long seed) throws IOException {
        Storage out = Storage.forUrl(dir.toString(), null);
        Nd4j.getRandom().setSeed(seed);
        List<LatentStore.IndexEntry> index = new ArrayList<>();
        for (int c = 0; c < clips; c++) {
            List<String> names = new ArrayList<>();
            for (int f = 0; f < frames; f++) names.add(String.format("%06d", f));
            String clip = "clip-" + c;
            ClipLatents l = new ClipLatents(clip, names, Nd4j.randn(DataType.FLOAT, frames, 4, 4, 4),
                    Nd4j.randn(DataType.FLOAT, frames, 4, 4, 4), Nd4j.randn(DataType.FLOAT, frames, 2, 32));
            LatentStore.writeClip(out, FOLDER, l, List.of(), "test", 32, "h");
            index.add(new LatentStore.IndexEntry(clip, LatentStore.clipFile(clip), frames, 0, "h", new long[]{2, 32}));
        }
        LatentStore.writeIndex(out, FOLDER, new LatentStore.Index("test", 32, index, LatentStore.INDEX_FORMAT_VERSION));
        return out;
    }

    public static UNetTask task(Storage out, int batch) throws IOException {
        Path cfg = ProjectPaths.resolve("configuration/unet/tiny.json");
        return new UNetTask(Files.readString(cfg), cfg.toString(), 7, batch, 1, 1, "l1", out, FOLDER);
    }

    /** Settings with clipping at 1.0 (active on these random data), buckets of {@code bucketFloats}. */
    static TrainingSettings settings(int accumulation, String schedule, int averagingFrequency, int bucketFloats) {
        dev.avatartrain.config.OptimizerConfig o = new dev.avatartrain.config.OptimizerConfig(1e-3, false, schedule, 2, 0.9, 0.999,
                1e-2, 1e-8, 1.0, 1, 1.0);
        return new TrainingSettings(accumulation, 1.0, dev.avatartrain.train.optim.LrSchedule.of(o, 10, 1e-3), 0.9, 0.999,
                1e-8, 1e-2, 11, averagingFrequency, bucketFloats);
    }

    static double maxAbsDiff(Map<String, float[]> a, Map<String, float[]> b) {
        if (!a.keySet().equals(b.keySet())) throw new AssertionError("different names: " + a.keySet() + " vs " + b.keySet());
        double m = 0;
        for (String n : a.keySet()) {
            float[] x = a.get(n), y = b.get(n);
            if (x.length != y.length) throw new AssertionError(n + ": " + x.length + " vs " + y.length);
            for (int i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
        }
        return m;
    }

    /** Copies of {@code arrays} as float32 Java arrays, by name. */
    static Map<String, float[]> floats(Map<String, org.nd4j.linalg.api.ndarray.INDArray> arrays) {
        Map<String, float[]> out = new java.util.LinkedHashMap<>();
        arrays.forEach((n, a) -> out.put(n, a.castTo(DataType.FLOAT).dup('c').data().asFloat()));
        return out;
    }
}
