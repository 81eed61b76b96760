package dev.avatartrain.metadata;

import dev.avatartrain.storage.SafePaths;

import java.io.Serializable;
import java.util.List;

/**
 * One clip of the frame tree: its frames (image names without extension, sorted) and how they pair with
 * audio feature files.
 *
 * @param listedMtime     the clip folders' modification time when listed (newest of image and audio
 *                        folder, ms), or -1 where the storage has none (S3) or the source did not record it
 * @param ignoredFiles    files in the clip's folders that are neither images nor audio features
 * @param emptyImages     image files of 0 bytes (file names with extension): not frames, reported as unreadable
 * @param error           why the clip could not be listed, or null
 */
public record ClipMetadata(String folderName, List<String> imageNames, int audioCount,
                           List<String> imagesWithoutAudio, List<String> audioWithoutImage,
                           long listedMtime, int ignoredFiles, List<String> emptyImages, String error) implements Serializable {

    /** Every name becomes a path segment ({@link SafePaths}): a hostile name in metadata is refused here. */
    public ClipMetadata {
        SafePaths.name(folderName, "clip name");
        for (List<String> names : List.of(imageNames, imagesWithoutAudio, audioWithoutImage, emptyImages))
            for (String n : names) SafePaths.name(n, "frame name in clip \"" + folderName + "\":");
        imageNames = List.copyOf(imageNames);
        imagesWithoutAudio = List.copyOf(imagesWithoutAudio);
        audioWithoutImage = List.copyOf(audioWithoutImage);
        emptyImages = List.copyOf(emptyImages);
    }

    public int imageCount() {
        return imageNames.size();
    }

    /** A clip known only by its images (the original JSON format): audio pairing unknown, taken as complete. */
    public static ClipMetadata imagesOnly(String folderName, List<String> imageNames) {
        return new ClipMetadata(folderName, imageNames, imageNames.size(), List.of(), List.of(), -1, 0, List.of(), null);
    }

    static ClipMetadata failed(String folderName, long mtime, String error) {
        return new ClipMetadata(folderName, List.of(), 0, List.of(), List.of(), mtime, 0, List.of(), error);
    }
}
