package dev.avatartrain.metadata;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Writes small frame trees the way {@code synth} lays them out (file contents are irrelevant to listing). */
public final class FrameTrees {
    private FrameTrees() {}

    /** {@code clips} clips of {@code frames} frames: aligned-frames/clip-NN/000000.png and audio/clip-NN/000000.npy. */
    public static Path write(Path root, int clips, int frames) throws IOException {
        for (int c = 0; c < clips; c++) addClip(root, String.format("clip-%02d", c), frames);
        return root;
    }

    public static void addClip(Path root, String clip, int frames) throws IOException {
        Path img = Files.createDirectories(root.resolve("aligned-frames").resolve(clip));
        Path aud = Files.createDirectories(root.resolve("audio").resolve(clip));
        for (int f = 0; f < frames; f++) {
            Files.write(img.resolve(String.format("%06d.png", f)), new byte[]{(byte) f});
            Files.write(aud.resolve(String.format("%06d.npy", f)), new byte[]{(byte) f});
        }
    }
}
