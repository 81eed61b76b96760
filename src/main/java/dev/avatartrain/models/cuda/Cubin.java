package dev.avatartrain.models.cuda;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the kernel entry points out of a CUBIN (an ELF64 file): global function symbols marked as CUDA entries
 * ({@code STO_CUDA_ENTRY} in {@code st_other}). Hand-written because it is forty lines of the ELF layout and the JDK
 * and our dependencies have no ELF reader; it lets CI check that every kernel the backend launches was compiled.
 */
final class Cubin {
    private static final int SHT_SYMTAB = 2;
    private static final int STT_FUNC = 2;
    private static final int STB_GLOBAL = 1;
    private static final int STO_CUDA_ENTRY = 0x10;

    private Cubin() {
    }

    /** The names of the kernels (entry points) in {@code cubin}. */
    static List<String> kernels(byte[] cubin) {
        ByteBuffer b = ByteBuffer.wrap(cubin).order(ByteOrder.LITTLE_ENDIAN);
        if (cubin.length < 64 || b.getInt(0) != 0x464c457f || cubin[4] != 2) {
            throw new IllegalArgumentException("not an ELF64 CUBIN (" + cubin.length + " bytes)");
        }
        long shoff = b.getLong(0x28);
        int shentsize = Short.toUnsignedInt(b.getShort(0x3a));
        int shnum = Short.toUnsignedInt(b.getShort(0x3c));
        List<String> out = new ArrayList<>();
        for (int i = 0; i < shnum; i++) {
            int sh = (int) (shoff + (long) i * shentsize);
            if (b.getInt(sh + 4) != SHT_SYMTAB) {
                continue;
            }
            int offset = (int) b.getLong(sh + 24);
            long size = b.getLong(sh + 32);
            int strtab = (int) b.getLong((int) (shoff + (long) b.getInt(sh + 40) * shentsize) + 24);
            int entsize = (int) b.getLong(sh + 56);
            for (int s = 0; s < size / entsize; s++) {
                int sym = offset + s * entsize;
                int info = Byte.toUnsignedInt(b.get(sym + 4));
                int other = Byte.toUnsignedInt(b.get(sym + 5));
                if ((info & 0xf) == STT_FUNC && (info >> 4) == STB_GLOBAL && (other & STO_CUDA_ENTRY) != 0) {
                    out.add(cString(cubin, strtab + b.getInt(sym)));
                }
            }
        }
        return out;
    }

    private static String cString(byte[] a, int from) {
        int end = from;
        while (a[end] != 0) {
            end++;
        }
        return new String(a, from, end - from, StandardCharsets.US_ASCII);
    }
}
