package dev.avatartrain.storage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

import dev.avatartrain.models.unet.UNetConfig;
import dev.avatartrain.models.unet.UNetLayouts;
import dev.avatartrain.tensors.Safetensors;

/**
 * Outputs get the mode the process's umask gives any new file (0644 and 0755 under the usual 022), not the 0600 of a
 * temporary file: the umask is read from a child shell (it inherits the JVM's) and every mode is read back.
 */
public class FileModesTest {
    @TempDir
    Path dir;

    /** The umask this JVM runs under, as {@code sh -c umask} reports it (children inherit it). */
    static int umask() throws IOException, InterruptedException {
        Process p = new ProcessBuilder("sh", "-c", "umask").start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip();
        assertEquals(0, p.waitFor());
        return Integer.parseInt(out, 8);
    }

    /** The permissions {@code mode} (e.g. 0644) stands for. */
    static Set<PosixFilePermission> perms(int mode) {
        Set<PosixFilePermission> s = EnumSet.noneOf(PosixFilePermission.class);
        PosixFilePermission[] order = {PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE,
            PosixFilePermission.OTHERS_READ, PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE,
            PosixFilePermission.GROUP_READ, PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE,
            PosixFilePermission.OWNER_READ};
        for (int i = 0; i < 9; i++) if ((mode & (1 << i)) != 0) s.add(order[i]);
        return s;
    }

    /** Asserts that every file under {@code root} has mode 0666 and every folder 0777, less the umask. */
    public static void assertUmaskModes(Path root) throws Exception {
        int umask = umask();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.filter(p -> !Files.isSymbolicLink(p)).toList()) {
                int mode = Files.isDirectory(p) ? 0777 & ~umask : 0666 & ~umask;
                assertEquals(PosixFilePermissions.toString(perms(mode)), PosixFilePermissions.toString(Files.getPosixFilePermissions(p)),
                        p + " under umask " + Integer.toOctalString(umask));
            }
        }
    }

    @Test
    void atomicWritesStorageWritesAndExportedFoldersFollowTheUmask() throws Exception {
        Path out = dir.resolve("out");
        AtomicFiles.writeString(out.resolve("effective-config.yaml"), "a: 1\n");
        try (Storage s = Storage.forUrl(out.toString(), null)) {
            s.write("checkpoints/checkpoint-1/state.bin", o -> o.write(new byte[] {1, 2, 3}));
        }
        Safetensors.write(out.resolve("w.safetensors"), Map.of("x", Nd4j.ones(DataType.FLOAT, 2)), Map.of());
        UNetConfig tiny = UNetConfig.read(Path.of("configuration/unet/tiny.json"));
        UNetLayouts.write("diffusers", out.resolve("export"), Map.of(), tiny, null, "", Map.of());
        assertTrue(Files.isRegularFile(out.resolve("export/config.json")));
        assertUmaskModes(out);
        if (umask() == 022) {
            assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(out.resolve("w.safetensors"))));
        }
    }
}
