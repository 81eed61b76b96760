package dev.avatartrain.tensors;

import dev.avatartrain.errors.BadInputException;
import org.apache.commons.compress.archivers.zip.ZipArchiveEntry;
import org.apache.commons.compress.archivers.zip.ZipFile;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * PyTorch {@code torch.save} archives ({@code .pt}, {@code .pth}, {@code .bin}, {@code .ckpt}): a zip holding a
 * pickle ({@code data.pkl}) and one member per storage. The pickle is read by {@link RestrictedUnpickler},
 * which executes nothing; storages are memory-mapped and tensors are built as views on them, so shared
 * storages, offsets and strides come out as PyTorch has them.
 */
public final class TorchFiles {
    private TorchFiles() {}

    /**
     * The saved object: nested {@link Map} (dicts, OrderedDicts), {@link List} (lists, tuples), {@link INDArray}
     * (tensors, in their stored dtype), Long, Double, Boolean, String, byte[] and null.
     */
    public static Object load(Path file) {
        String name = file.toString();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            byte[] magic = new byte[2];
            ch.read(java.nio.ByteBuffer.wrap(magic), 0);
            if (magic[0] != 'P' || magic[1] != 'K') {
                if ((magic[0] & 255) == 0x80)
                    throw new BadInputException(name + ": legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it "
                            + "with PyTorch >= 1.6 (torch.save(torch.load(f), f2)) or convert it to safetensors.");
                throw new BadInputException(name + ": not a PyTorch file (expected a torch.save zip archive).");
            }
        } catch (IOException e) {
            throw new BadInputException(name + ": cannot be read: " + e.getMessage(), e);
        }
        try (ZipFile zip = new ZipFile(file.toFile());
             FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return new Archive(zip, ch, name).load();
        } catch (IOException e) {
            throw new BadInputException(name + ": not a readable PyTorch archive (truncated or corrupt zip): " + e.getMessage(), e);
        }
    }

    /** Reads a stream (e.g. from S3) by spooling it to a temporary file first: zip needs random access. */
    public static Object load(InputStream in, String file) throws IOException {
        Path tmp = Files.createTempFile("avatar-train-", ".pt");
        try {
            Files.copy(in, tmp, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            try {
                return load(tmp);
            } catch (BadInputException e) {
                throw new BadInputException(e.getMessage().replace(tmp.toString(), file), e);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Every tensor of the saved object, keyed by its path of dict keys and list indices joined with '.'
     * (a state dict's own names), converted to {@code dtype} (null keeps the stored dtype).
     */
    public static LinkedHashMap<String, INDArray> loadStateDict(Path file, DataType dtype) {
        return tensorsOf(load(file), file.toString(), dtype);
    }

    static LinkedHashMap<String, INDArray> tensorsOf(Object root, String file, DataType dtype) {
        LinkedHashMap<String, INDArray> out = new LinkedHashMap<>();
        flatten("", root, out, dtype);
        if (out.isEmpty())
            throw new BadInputException(file + ": holds no tensors (found " + (root == null ? "None" : root.getClass().getSimpleName()) + ").");
        return out;
    }

    private static void flatten(String prefix, Object o, Map<String, INDArray> out, DataType dtype) {
        if (o instanceof INDArray a) {
            out.put(prefix.isEmpty() ? "tensor" : prefix, dtype == null || a.dataType() == dtype ? a : a.castTo(dtype));
        } else if (o instanceof Map<?, ?> m) {
            for (Map.Entry<?, ?> e : m.entrySet()) flatten(join(prefix, String.valueOf(e.getKey())), e.getValue(), out, dtype);
        } else if (o instanceof List<?> l) {
            for (int i = 0; i < l.size(); i++) flatten(join(prefix, String.valueOf(i)), l.get(i), out, dtype);
        } else if (o instanceof RestrictedUnpickler.Tuple t) {
            flatten(prefix, t.items(), out, dtype);
        }
    }

    private static String join(String prefix, String key) {
        return prefix.isEmpty() ? key : prefix + "." + key;
    }

    /**
     * One storage of the archive, loaded once even when many tensors view it. {@code handedOut} is set when one
     * tensor took {@code data} itself (it covered the whole storage); later tensors on it get copies, so no two
     * returned arrays share memory.
     */
    private static final class Storage {
        final DType dtype;
        final String key;
        final long numel;
        final INDArray data;
        boolean handedOut;

        Storage(DType dtype, String key, long numel, INDArray data) {
            this.dtype = dtype;
            this.key = key;
            this.numel = numel;
            this.data = data;
        }
    }

    private static final class Archive {
        private final ZipFile zip;
        private final FileChannel ch;
        private final String file;
        private final Map<String, Storage> storages = new HashMap<>();
        private String prefix;
        private ByteOrder order = ByteOrder.LITTLE_ENDIAN;

        Archive(ZipFile zip, FileChannel ch, String file) {
            this.zip = zip;
            this.ch = ch;
            this.file = file;
        }

        Object load() throws IOException {
            ZipArchiveEntry pkl = null;
            for (ZipArchiveEntry e : Collections.list(zip.getEntries())) {
                ZipMembers.checkName(e.getName(), file);
                if (e.getName().endsWith("/data.pkl") && e.getName().indexOf('/') == e.getName().length() - 9) pkl = e;
            }
            if (pkl == null) throw new BadInputException(file + ": not a PyTorch archive: it has no <name>/data.pkl member.");
            prefix = pkl.getName().substring(0, pkl.getName().length() - "data.pkl".length());
            ZipArchiveEntry bo = zip.getEntry(prefix + "byteorder");
            if (bo != null) {
                String s = new String(read(bo, 16), StandardCharsets.US_ASCII).trim();
                order = s.equals("big") ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
            }
            if (pkl.getSize() > Integer.MAX_VALUE) throw new BadInputException(file + ": data.pkl is too large.");
            byte[] pickle = read(pkl, (int) pkl.getSize());
            return new RestrictedUnpickler(pickle, file, this::persistentLoad, this::reduce).load();
        }

        private byte[] read(ZipArchiveEntry e, int max) throws IOException {
            try (InputStream in = zip.getInputStream(e)) {
                return in.readNBytes(max);
            }
        }

        private Object persistentLoad(Object pid) {
            if (!(pid instanceof RestrictedUnpickler.Tuple t) || t.items().size() < 5 || !"storage".equals(t.get(0))
                    || !(t.get(1) instanceof RestrictedUnpickler.Global g) || !(t.get(2) instanceof String key)
                    || !(t.get(4) instanceof Long numel))
                throw new BadInputException(file + ": not a readable PyTorch file: unexpected persistent id " + pid + ".");
            Storage cached = storages.get(key);
            if (cached != null) return cached;
            DType dt = DType.fromTorchStorage(g.name());
            if (dt == null) throw new BadInputException(file + ": unsupported storage type torch." + g.name() + ".");
            Storage s = new Storage(dt, key, numel, readStorage(dt, key, numel));
            storages.put(key, s);
            return s;
        }

        private INDArray readStorage(DType dt, String key, long numel) {
            ZipArchiveEntry e = zip.getEntry(prefix + "data/" + key);
            if (e == null) throw new BadInputException(file + ": storage '" + key + "' is missing from the archive.");
            long bytes = Math.multiplyExact(numel, dt.size);
            if (e.getSize() < bytes)
                throw new BadInputException(file + ": storage '" + key + "' holds " + e.getSize() + " bytes, " + bytes + " expected.");
            INDArray arr = NativeArrays.uninitialized(dt.nd4j, numel);
            try {
                if (e.getMethod() == ZipArchiveEntry.STORED && e.getDataOffset() > 0) {
                    if (e.getDataOffset() + bytes > ch.size())
                        throw new BadInputException(file + ": storage '" + key + "' extends past the end of the file (truncated).");
                    if (bytes > 0) NativeBytes.fill(arr, ch, e.getDataOffset(), bytes, order, dt.size);
                } else {
                    try (InputStream in = zip.getInputStream(e)) {
                        NativeBytes.fill(arr, in, bytes, order, dt.size, file);
                    }
                }
            } catch (IOException ex) {
                throw new BadInputException(file + ": storage '" + key + "' cannot be read: " + ex.getMessage(), ex);
            }
            return arr;
        }

        private Object reduce(RestrictedUnpickler.Global g, RestrictedUnpickler.Tuple args) {
            List<Object> a = args.items();
            switch (g.qualified()) {
                case "collections.OrderedDict": {
                    LinkedHashMap<Object, Object> m = new LinkedHashMap<>();
                    if (!a.isEmpty() && a.get(0) instanceof List<?> pairs) {
                        for (Object p : pairs) {
                            if (p instanceof RestrictedUnpickler.Tuple kv && kv.items().size() == 2) m.put(kv.get(0), kv.get(1));
                        }
                    }
                    return m;
                }
                case "torch._utils._rebuild_tensor_v2":
                    return tensor(a);
                case "torch._utils._rebuild_parameter":
                case "torch._utils._rebuild_parameter_with_state":
                    if (a.isEmpty() || !(a.get(0) instanceof INDArray t))
                        throw new BadInputException(file + ": not a readable PyTorch file: a parameter without tensor data.");
                    return t;
                default:
                    throw new UnsafeFileException(file + ": refused: the pickle calls " + g.qualified() + ", which is not a constructor of tensor data.");
            }
        }

        private INDArray tensor(List<Object> a) {
            if (a.size() < 4 || !(a.get(0) instanceof Storage s) || !(a.get(1) instanceof Long offset)
                    || !(a.get(2) instanceof RestrictedUnpickler.Tuple size) || !(a.get(3) instanceof RestrictedUnpickler.Tuple stride))
                throw new BadInputException(file + ": not a readable PyTorch file: unexpected arguments to _rebuild_tensor_v2.");
            long[] shape = longs(size), strides = longs(stride);
            if (shape.length != strides.length) throw new BadInputException(file + ": tensor with " + shape.length + " sizes but " + strides.length + " strides.");
            long n = 1, last = offset;
            for (int i = 0; i < shape.length; i++) {
                n *= shape[i];
                if (shape[i] > 0) last += (shape[i] - 1) * strides[i];
            }
            if (n == 0) return Nd4j.create(s.dtype.nd4j, shape);
            if (offset < 0 || last >= s.numel)
                throw new BadInputException(file + ": tensor reaches element " + last + " of storage '" + s.key + "' of " + s.numel + " elements.");
            if (shape.length == 0) return s.data.getScalar(offset).reshape().dup();
            if (!s.handedOut && offset == 0 && n == s.numel && isCContiguous(shape, strides)) {
                // The usual state_dict case: the tensor is its whole storage in C order. Hand out the storage
                // array itself, reshaped (a view of the same buffer), instead of copying it a second time.
                s.handedOut = true;
                return s.data.reshape('c', shape);
            }
            return Nd4j.create(s.data.data(), shape, strides, offset, 'c', s.dtype.nd4j).dup('c');
        }

        /** Whether {@code strides} are the C-order strides of {@code shape} (size-1 dimensions may have any stride). */
        private static boolean isCContiguous(long[] shape, long[] strides) {
            long expected = 1;
            for (int i = shape.length - 1; i >= 0; i--) {
                if (shape[i] != 1 && strides[i] != expected) return false;
                expected *= shape[i];
            }
            return true;
        }

        private long[] longs(RestrictedUnpickler.Tuple t) {
            List<Long> out = new ArrayList<>();
            for (Object o : t.items()) {
                if (!(o instanceof Long l)) throw new BadInputException(file + ": tensor size or stride is not an integer: " + o + ".");
                out.add(l);
            }
            return out.stream().mapToLong(Long::longValue).toArray();
        }
    }
}
