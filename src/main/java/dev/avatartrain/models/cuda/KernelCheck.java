package dev.avatartrain.models.cuda;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import dev.avatartrain.errors.BadInputException;

/**
 * Compiles every kernel for the given architectures without a GPU and checks that each CUBIN defines exactly the
 * entry points the backend launches: CI's proof that the kernels build for the GPUs workers have
 * ({@code avatar-train env --check-kernels sm_90,sm_100}; {@link #main}).
 */
public final class KernelCheck {
    /** The architectures CI compiles for: A100, A10/RTX 30xx, L4/L40S/RTX 40xx, H100/H200, B200, RTX 50xx. */
    public static final List<String> CI_ARCHS = List.of("sm_80", "sm_86", "sm_89", "sm_90", "sm_100", "sm_120");

    private KernelCheck() {
    }

    /** Architecture → number of kernels compiled (all families), in the given order; NVRTC found by {@link CudaLibraries}. */
    public static Map<String, Integer> compileAll(List<String> archs) {
        return compileAll(new KernelCompiler(Nvrtc.locate(), null), archs);
    }

    static Map<String, Integer> compileAll(KernelCompiler compiler, List<String> archs) {
        Map<String, Integer> out = new LinkedHashMap<>();
        for (String arch : archs) {
            int n = 0;
            for (KernelFamily f : KernelFamily.values()) {
                List<String> found = Cubin.kernels(compiler.compile(f, arch));
                Set<String> expected = new HashSet<>(f.kernels());
                if (!expected.equals(new HashSet<>(found))) {
                    Set<String> missing = new TreeSet<>(expected);
                    found.forEach(missing::remove);
                    Set<String> extra = new TreeSet<>(found);
                    extra.removeAll(expected);
                    throw new KernelCompileException(f.fileName() + " for " + arch + ": missing kernels " + missing
                            + ", unlisted kernels " + extra + " (KernelFamily lists what the backend launches)");
                }
                n += found.size();
            }
            out.put(arch, n);
        }
        return out;
    }

    /** {@code "sm_90,sm_100"} → the list, each checked. */
    public static List<String> parseArchs(String list) {
        List<String> out = new ArrayList<>();
        for (String a : list.split(",")) {
            if (!a.isBlank()) {
                out.add(KernelCompiler.checkArch(a.trim()));
            }
        }
        return out;
    }

    /** One line per architecture: {@code sm_90: 81 kernels compiled}. */
    public static List<String> lines(Map<String, Integer> counts) {
        List<String> out = new ArrayList<>();
        counts.forEach((arch, n) -> out.add(arch + ": " + n + " kernels compiled"));
        return out;
    }

    /** Prints the NVRTC version and one line per architecture; args: an optional comma list (default {@link #CI_ARCHS}). */
    public static void main(String[] args) {
        try {
            List<String> archs = args.length > 0 ? parseArchs(args[0]) : CI_ARCHS;
            KernelCompiler compiler = new KernelCompiler(Nvrtc.locate(), null);
            System.out.println("NVRTC " + compiler.nvrtcVersion());
            lines(compileAll(compiler, archs)).forEach(System.out::println);
        } catch (BadInputException | KernelCompileException e) {
            System.err.println(e.getMessage());
            System.exit(1);
        }
    }
}
