package dev.avatartrain.data;

import java.nio.file.Files;
import java.nio.file.Path;

import dev.avatartrain.errors.BadInputException;

/** Run in a child JVM by {@link FrameImagesTest}: decodes one frame file and prints the clean error, if any. */
public final class DecodeFrame {
    private DecodeFrame() {}

    public static void main(String[] args) throws Exception {
        try {
            FrameImages.decodeChw(Files.readAllBytes(Path.of(args[0])), args[0], 32);
            System.out.println("decoded");
        } catch (BadInputException e) {
            System.out.println("error: " + e.getMessage());
        }
    }
}
