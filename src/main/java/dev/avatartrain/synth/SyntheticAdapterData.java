package dev.avatartrain.synth;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import com.fasterxml.jackson.databind.ObjectMapper;

import dev.avatartrain.models.adapter.AudioProjConfig;
import dev.avatartrain.models.adapter.AudioProjModel;
import dev.avatartrain.storage.AtomicFiles;
import dev.avatartrain.tensors.Npy;
import dev.avatartrain.tensors.Safetensors;
import dev.avatartrain.tensors.TorchWriter;

/**
 * Sample data for {@code train-adapter}: {@code out/manifest.json} listing items whose audio {@code [T, blocks,
 * channels]} (seeded Gaussian, T varied, not always 1 + k·vae_scale) and teacher tokens are stored as {@code .npy},
 * {@code .pt} and {@code .safetensors} in turn. The targets are the output of a seeded random teacher adapter
 * ({@code out/teacher.safetensors}), so training from another initialisation visibly converges toward it.
 */
public final class SyntheticAdapterData {
    private static final String[] FORMATS = {"npy", "pt", "safetensors"};

    private SyntheticAdapterData() {}

    /** Writes {@code items} items and returns the manifest's path. */
    public static Path write(Path out, AudioProjConfig cfg, int items, long seed) throws IOException {
        Files.createDirectories(out.resolve("audio"));
        Files.createDirectories(out.resolve("target"));
        AudioProjModel teacher = AudioProjModel.build(cfg, DataType.FLOAT, seed + 1000);
        Safetensors.write(out.resolve("teacher.safetensors"), teacher.export(DataType.FLOAT), Map.of("format", "pt"));
        SplittableRandom rng = new SplittableRandom(seed);
        List<Map<String, Object>> manifest = new ArrayList<>();
        for (int i = 0; i < items; i++) {
            int frames = 1 + cfg.vaeScale() * (2 + rng.nextInt(4)) + (i % 2 == 0 ? 0 : 1 + rng.nextInt(cfg.vaeScale() - 1));
            float[] v = new float[frames * cfg.blocks() * cfg.channels()];
            for (int k = 0; k < v.length; k++) v[k] = (float) gaussian(rng);
            INDArray audio = Nd4j.create(v, new long[]{frames, cfg.blocks(), cfg.channels()}, 'c');
            INDArray target = teacher.forward(audio);
            String format = FORMATS[i % FORMATS.length];
            String name = String.format("item-%03d.%s", i, format);
            save(out.resolve("audio").resolve(name), audio, "audio");
            save(out.resolve("target").resolve(name), target, "target");
            Map<String, Object> item = new LinkedHashMap<>();
            item.put("audio", "audio/" + name);
            item.put("target", "target/" + name);
            if (i % 4 == 3) item.put("weight", 0.5);
            manifest.add(item);
        }
        Path m = out.resolve("manifest.json");
        byte[] json = new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsBytes(manifest);
        AtomicFiles.write(m, o -> o.write(json));
        return m;
    }

    private static void save(Path file, INDArray a, String name) throws IOException {
        String f = file.getFileName().toString();
        if (f.endsWith(".npy")) Npy.write(file, a);
        else if (f.endsWith(".pt")) TorchWriter.writeTensor(file, a);
        else Safetensors.write(file, Map.of(name, a), Map.of());
    }

    private static double gaussian(SplittableRandom rng) {
        double u = 1 - rng.nextDouble(), w = rng.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * w);
    }
}
