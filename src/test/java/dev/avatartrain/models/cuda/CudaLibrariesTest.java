package dev.avatartrain.models.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.models.cuda.CudaLibraries.Library;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CudaLibrariesTest {
    @Test
    void findsALibraryInTheFirstFolderThatHasIt(@TempDir Path tmp) throws Exception {
        Path a = Files.createDirectories(tmp.resolve("a"));
        Path b = Files.createDirectories(tmp.resolve("b"));
        Files.write(b.resolve(Library.CUBLAS.file), new byte[1]);
        assertEquals(b.resolve(Library.CUBLAS.file).toAbsolutePath(), CudaLibraries.find(Library.CUBLAS, List.of(a, b)));
    }

    @Test
    void aMissingLibraryNamesTheFileTheWheelAndTheSetting(@TempDir Path tmp) {
        BadInputException e = assertThrows(BadInputException.class,
                () -> CudaLibraries.find(Library.CUDNN, List.of(tmp)));
        assertTrue(e.getMessage().startsWith("libcudnn.so.9 (nvidia-cudnn-cu13) was not found in [" + tmp + "]"),
                e.getMessage());
        assertTrue(e.getMessage().contains("pip install nvidia-cudnn-cu13"), e.getMessage());
        assertTrue(e.getMessage().contains("-D" + CudaLibraries.PATH_PROPERTY), e.getMessage());
        assertTrue(e.getMessage().contains("/usr/local/cuda"), e.getMessage());
    }

    @Test
    void thePropertyIsSearchedFirst(@TempDir Path tmp) {
        NvrtcVenv.withProperty(CudaLibraries.PATH_PROPERTY, tmp + java.io.File.pathSeparator + "/nonexistent", () -> {
            List<Path> path = CudaLibraries.searchPath();
            assertEquals(List.of(tmp, Path.of("/nonexistent")), path.subList(0, 2));
            assertTrue(path.contains(Path.of("/usr/local/cuda/lib64")));
        });
    }

    /** Without a GPU driver, opening the backend is a one-sentence error naming the driver's file, not a crash. */
    @Test
    void openingTheBackendWithoutADriverSaysWhatIsMissing() {
        if (GpuTestSummary.gpuPresent()) {
            try (CudaContext cx = new CudaContext(0)) {
                assertTrue(cx.device().arch().matches("sm_[0-9]+"), cx.device().arch());
            }
            return;
        }
        BadInputException e = assertThrows(BadInputException.class, () -> new CudaContext(0));
        assertTrue(e.getMessage().startsWith("libcuda.so.1 (the NVIDIA driver"), e.getMessage());
    }

    /** {@code env}'s lines: every library with its file or what to install, NVRTC's version, the GPUs or why none. */
    @Test
    void theEnvironmentReportNamesEveryLibrary() {
        String nvrtc = NvrtcVenv.libDir().toString();
        NvrtcVenv.withProperty(CudaLibraries.PATH_PROPERTY, nvrtc, () -> {
            List<String> lines = CudaEnvironment.describe();
            for (int i = 0; i < Library.values().length; i++) {
                assertTrue(lines.get(i).startsWith(Library.values()[i].file + ": "), lines.get(i));
            }
            assertTrue(lines.get(lines.size() - 1).startsWith("GPU"), lines.toString());
            assertTrue(lines.get(0).matches("libnvrtc\\.so\\.13: .*/libnvrtc\\.so\\.13 \\(NVRTC 13\\.[0-9]+\\)"),
                    lines.get(0));
            if (!GpuTestSummary.gpuPresent()) {
                assertTrue(lines.stream().anyMatch(l -> l.startsWith("libcuda.so.1: missing — ")), lines.toString());
                assertTrue(lines.get(lines.size() - 1).startsWith("GPUs: none usable"), lines.toString());
            }
        });
    }
}
