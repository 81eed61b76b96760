package dev.avatartrain.models.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.models.kernels.Activation;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every kernel compiled with NVRTC (no GPU needed) for the architectures workers have. */
class KernelCheckTest {
    @Test
    void compilesEveryKernelForEveryArchitectureWorkersHave() {
        NvrtcVenv.withProperty(CudaLibraries.PATH_PROPERTY, NvrtcVenv.libDir().toString(), () -> {
            Map<String, Integer> counts = KernelCheck.compileAll(KernelCheck.CI_ARCHS);
            assertEquals(KernelCheck.CI_ARCHS, List.copyOf(counts.keySet()));
            for (int n : counts.values()) {
                assertEquals(KernelFamily.kernelCount(), n);
            }
            KernelCheck.lines(counts).forEach(System.out::println);
            assertEquals("sm_90: " + KernelFamily.kernelCount() + " kernels compiled",
                    KernelCheck.lines(counts).get(3));
        });
    }

    @Test
    void theCubinHoldsExactlyTheListedEntryPoints() {
        KernelCompiler c = new KernelCompiler(new Nvrtc(NvrtcVenv.libDir()), null);
        List<String> names = Cubin.kernels(c.compile(KernelFamily.NORMS, "sm_90"));
        assertEquals(new HashSet<>(KernelFamily.NORMS.kernels()), new HashSet<>(names));
        assertEquals(10, names.size()); // 5 kernels × {f32, bf16}
        assertThrows(IllegalArgumentException.class, () -> Cubin.kernels(new byte[100]));
    }

    @Test
    void aBrokenKernelFailsWithNvrtcsLog() {
        Nvrtc nvrtc = new Nvrtc(NvrtcVenv.libDir());
        KernelCompileException e = assertThrows(KernelCompileException.class, () -> nvrtc.compileToCubin("broken.cu",
                "extern \"C\" __global__ void k(float* x) { x[0] = undefined_name; }", new String[0], new String[0],
                new String[] {"--gpu-architecture=sm_90"}));
        assertTrue(e.getMessage().contains("broken.cu"), e.getMessage());
        assertTrue(e.getMessage().contains("undefined_name"), e.getMessage());
        assertTrue(e.getMessage().contains("--gpu-architecture=sm_90"), e.getMessage());
    }

    @Test
    void compiledKernelsAreCachedOnDisk(@TempDir Path cache) throws Exception {
        Nvrtc nvrtc = new Nvrtc(NvrtcVenv.libDir());
        byte[] first = new KernelCompiler(nvrtc, cache).compile(KernelFamily.CAST, "sm_86");
        Path file;
        try (Stream<Path> s = Files.list(cache)) {
            file = s.filter(p -> p.toString().endsWith(".cubin")).findFirst().orElseThrow();
        }
        assertArrayEquals(first, Files.readAllBytes(file));
        byte[] marked = first.clone();
        marked[marked.length - 1] ^= 1;
        Files.write(file, marked); // a second compiler reads the cache instead of compiling
        assertArrayEquals(marked, new KernelCompiler(nvrtc, cache).compile(KernelFamily.CAST, "sm_86"));
    }

    @Test
    void theKernelsActivationCodesAreTheActivationOrdinals() {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("#define ACT_([A-Z]+) ([0-9]+)")
                .matcher(KernelFamily.header());
        int n = 0;
        while (m.find()) {
            assertEquals(Activation.valueOf(m.group(1)).ordinal(), Integer.parseInt(m.group(2)), m.group());
            n++;
        }
        assertEquals(Activation.values().length, n);
    }

    @Test
    void architecturesAreWrittenSmXx() {
        assertEquals(List.of("sm_90", "sm_100"), KernelCheck.parseArchs("sm_90, sm_100"));
        assertEquals("sm_90", KernelCompiler.arch(9, 0));
        BadInputException e = assertThrows(BadInputException.class, () -> KernelCheck.parseArchs("90"));
        assertTrue(e.getMessage().contains("sm_XX"), e.getMessage());
    }
}
