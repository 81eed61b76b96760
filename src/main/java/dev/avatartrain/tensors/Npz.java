package dev.avatartrain.tensors;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.storage.AtomicFiles;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import java.util.zip.ZipOutputStream;

/** numpy's {@code .npz}: a zip of {@code name.npy} members, stored or deflated. */
public final class Npz {
    private Npz() {}

    public static LinkedHashMap<String, Npy.NpyArray> read(Path file) {
        try (InputStream in = java.nio.file.Files.newInputStream(file)) {
            return read(in, file.toString());
        } catch (IOException e) {
            throw new BadInputException(file + ": not a readable .npz archive: " + e.getMessage(), e);
        }
    }

    public static LinkedHashMap<String, Npy.NpyArray> read(InputStream in, String file) throws IOException {
        LinkedHashMap<String, Npy.NpyArray> out = new LinkedHashMap<>();
        try (ZipInputStream zip = new ZipInputStream(in)) {
            ZipEntry e;
            while ((e = zip.getNextEntry()) != null) {
                String name = e.getName();
                ZipMembers.checkName(name, file);
                if (e.isDirectory()) continue;
                if (!name.endsWith(".npy")) continue;
                out.put(name.substring(0, name.length() - 4), Npy.read(zip, file + "!" + name));
            }
        }
        if (out.isEmpty()) throw new BadInputException(file + ": not a readable .npz archive: it holds no .npy members.");
        return out;
    }

    /**
     * Writes an archive of {@code arrays} (values: {@link INDArray} or {@code String[]}) atomically, members
     * stored uncompressed as {@code np.savez} does; each member's bytes equal {@code np.save}'s.
     */
    public static void write(Path file, Map<String, ?> arrays) throws IOException {
        AtomicFiles.write(file, raw -> {
            ZipOutputStream zip = new ZipOutputStream(raw);
            zip.setMethod(ZipOutputStream.STORED);
            for (Map.Entry<String, ?> e : arrays.entrySet()) {
                ByteArrayOutputStream member = new ByteArrayOutputStream();
                if (e.getValue() instanceof INDArray a) Npy.write(member, a);
                else if (e.getValue() instanceof String[] s) Npy.writeStrings(member, s);
                else throw new IllegalArgumentException(e.getKey() + ": expected INDArray or String[]");
                byte[] bytes = member.toByteArray();
                ZipEntry entry = new ZipEntry(e.getKey() + ".npy");
                CRC32 crc = new CRC32();
                crc.update(bytes);
                entry.setSize(bytes.length);
                entry.setCompressedSize(bytes.length);
                entry.setCrc(crc.getValue());
                entry.setTime(315532800000L); // 1980-01-01: the same archive for the same arrays
                zip.putNextEntry(entry);
                zip.write(bytes);
                zip.closeEntry();
            }
            zip.finish();
        });
    }
}
