package dev.avatartrain.metadata;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.storage.Storage;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A frame tree as {@code synth} writes it: {@code ROOT/<image folder>/<clip>/<frame>.png} and
 * {@code ROOT/<audio folder>/<clip>/<frame>.npy}. Lists clip folders (driver) and one clip's frames (executors).
 */
public final class FrameTree implements Serializable {
    static final Set<String> IMAGE_EXTENSIONS = Set.of("png", "jpg", "jpeg");
    static final String AUDIO_EXTENSION = "npy";

    private final String root;
    private final String imageFolder;
    private final String audioFolder;

    /**
     * @param input the tree root or its image folder (local path, file://, s3a:// or http(s)://)
     */
    public FrameTree(String input, String imageFolder, String audioFolder) {
        String trimmed = input.replaceAll("/+$", "");
        int slash = trimmed.lastIndexOf('/');
        String last = slash >= 0 ? trimmed.substring(slash + 1) : trimmed;
        if (last.equals(imageFolder) && slash > 0) trimmed = trimmed.substring(0, slash);
        else if (last.equals(imageFolder)) trimmed = ".";
        this.root = trimmed + "/";
        this.imageFolder = imageFolder;
        this.audioFolder = audioFolder;
    }

    public String root() {
        return root;
    }

    /** A clip folder found at the top level. */
    public record ClipFolder(String name, long mtime) implements Serializable {}

    /** The clip folders of the tree, sorted; files next to them and audio folders without images are reported. */
    public record TopLevel(List<ClipFolder> clips, List<String> strayFiles, List<String> audioOnlyClips) implements Serializable {}

    /** Lists the image folder (and the audio folder, for mtimes and audio-only clips). */
    public TopLevel listClips(Storage storage) {
        TreeMap<String, Storage.Entry> images;
        try {
            images = storage.listEntries(imageFolder, true);
        } catch (FileNotFoundException e) {
            throw new BadInputException(root + ": no '" + imageFolder + "' folder of clips in this tree (" + e.getMessage()
                    + ") Give the tree root or its '" + imageFolder + "' folder.", e);
        } catch (IOException e) {
            throw new BadInputException(root + imageFolder + ": cannot list the clip folders: " + e.getMessage(), e);
        }
        Map<String, Storage.Entry> audio;
        try {
            audio = storage.listEntries(audioFolder, true);
        } catch (IOException e) {
            audio = Map.of(); // no audio folder: every clip is reported as missing audio
        }
        List<ClipFolder> clips = new ArrayList<>();
        List<String> stray = new ArrayList<>();
        for (Storage.Entry e : images.values()) {
            if (!e.directory()) {
                stray.add(imageFolder + "/" + e.name());
                continue;
            }
            Storage.Entry a = audio.get(e.name());
            long mtime = e.modifiedMillis();
            if (mtime >= 0) mtime = a == null ? mtime : (a.modifiedMillis() < 0 ? -1 : Math.max(mtime, a.modifiedMillis()));
            clips.add(new ClipFolder(e.name(), mtime));
        }
        List<String> audioOnly = new ArrayList<>();
        for (Storage.Entry a : audio.values()) if (a.directory() && !images.containsKey(a.name())) audioOnly.add(a.name());
        return new TopLevel(clips, stray, audioOnly);
    }

    /**
     * Lists one clip's images and audio features and pairs them by frame name. An image file of 0 bytes (its size
     * comes with the listing) is not a frame: it is reported in {@link ClipMetadata#emptyImages()}. Never throws:
     * errors become the row's error.
     */
    public ClipMetadata listClip(Storage storage, ClipFolder clip) {
        TreeSet<String> images = new TreeSet<>();
        TreeSet<String> audio = new TreeSet<>();
        List<String> emptyImages = new ArrayList<>();
        int ignored;
        try {
            TreeMap<String, Storage.Entry> entries = storage.listEntries(imageFolder + "/" + clip.name(), true);
            List<String> names = new ArrayList<>(entries.size());
            for (Storage.Entry e : entries.values()) {
                if (e.size() == 0 && isImage(e.name())) emptyImages.add(e.name());
                else names.add(e.name());
            }
            ignored = collect(names, images, IMAGE_EXTENSIONS);
        } catch (IOException e) {
            return ClipMetadata.failed(clip.name(), clip.mtime(), "cannot list " + imageFolder + "/" + clip.name() + ": " + e.getMessage());
        }
        try {
            ignored += collect(storage.list(audioFolder + "/" + clip.name()), audio, Set.of(AUDIO_EXTENSION));
        } catch (FileNotFoundException e) {
            // no audio folder for this clip: every image is reported without audio
        } catch (IOException e) {
            return ClipMetadata.failed(clip.name(), clip.mtime(), "cannot list " + audioFolder + "/" + clip.name() + ": " + e.getMessage());
        }
        List<String> noAudio = new ArrayList<>();
        for (String f : images) if (!audio.contains(f)) noAudio.add(f);
        List<String> noImage = new ArrayList<>();
        for (String f : audio) if (!images.contains(f)) noImage.add(f);
        return new ClipMetadata(clip.name(), new ArrayList<>(images), audio.size(), noAudio, noImage, clip.mtime(), ignored,
                emptyImages, null);
    }

    private static boolean isImage(String name) {
        int dot = name.lastIndexOf('.');
        return dot > 0 && IMAGE_EXTENSIONS.contains(name.substring(dot + 1).toLowerCase(Locale.ROOT));
    }

    /** Adds frame names (without extension) of files with the given extensions; returns how many names were not frames. */
    private static int collect(List<String> names, Set<String> into, Set<String> extensions) {
        int ignored = 0;
        for (String n : names) {
            int dot = n.lastIndexOf('.');
            if (dot <= 0 || !extensions.contains(n.substring(dot + 1).toLowerCase(Locale.ROOT))) {
                ignored++;
                continue;
            }
            into.add(n.substring(0, dot));
        }
        return ignored;
    }
}
