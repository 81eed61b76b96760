package dev.avatartrain.tensors;

import dev.avatartrain.errors.BadInputException;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Reads named tensors from any supported file, chosen by extension: {@code .safetensors}, PyTorch
 * {@code .pt/.pth/.bin/.ckpt}, numpy {@code .npy} (one tensor, named "array") and {@code .npz}.
 */
public final class TensorFiles {
    private TensorFiles() {}

    public enum Format { SAFETENSORS, TORCH, NPY, NPZ }

    public static Format formatOf(String fileName) {
        String n = fileName.toLowerCase(Locale.ROOT);
        if (n.endsWith(".safetensors")) return Format.SAFETENSORS;
        if (n.endsWith(".pt") || n.endsWith(".pth") || n.endsWith(".bin") || n.endsWith(".ckpt")) return Format.TORCH;
        if (n.endsWith(".npy")) return Format.NPY;
        if (n.endsWith(".npz")) return Format.NPZ;
        throw new BadInputException(fileName + ": unknown tensor file type; expected .safetensors, .pt, .pth, .bin, .ckpt, .npy or .npz.");
    }

    /** Every tensor of {@code file}, converted to {@code dtype} (null keeps stored dtypes). */
    public static LinkedHashMap<String, INDArray> read(Path file, DataType dtype) {
        if (!Files.isRegularFile(file)) throw new BadInputException(file + ": file not found.");
        return switch (formatOf(file.getFileName().toString())) {
            case SAFETENSORS -> Safetensors.read(file, dtype).tensors();
            case TORCH -> TorchFiles.loadStateDict(file, dtype);
            case NPY -> single(Npy.read(file), file.toString(), dtype);
            case NPZ -> numeric(Npz.read(file), file.toString(), dtype);
        };
    }

    /** As {@link #read(Path, DataType)} from a stream; {@code fileName} gives the format and names errors. */
    public static LinkedHashMap<String, INDArray> read(InputStream in, String fileName, DataType dtype) throws IOException {
        return switch (formatOf(fileName)) {
            case SAFETENSORS -> Safetensors.read(in, fileName, dtype).tensors();
            case TORCH -> TorchFiles.tensorsOf(TorchFiles.load(in, fileName), fileName, dtype);
            case NPY -> single(Npy.read(in, fileName), fileName, dtype);
            case NPZ -> numeric(Npz.read(in, fileName), fileName, dtype);
        };
    }

    /** A tensor's stored dtype (safetensors name, e.g. {@code F32}) and shape; {@code floating}: a floating-point dtype. */
    public record Described(String dtype, long[] shape, boolean floating) {}

    /**
     * The tensors of a stream (name → dtype and shape) reading only the header for .safetensors and .npy; .pt and
     * .npz files (zip archives whose headers are not at the start) are read whole.
     */
    public static LinkedHashMap<String, Described> describe(InputStream in, String fileName) throws IOException {
        LinkedHashMap<String, Described> out = new LinkedHashMap<>();
        switch (formatOf(fileName)) {
            case SAFETENSORS -> Safetensors.describe(in, fileName).forEach((n, e) ->
                    out.put(n, new Described(e.dtype().safetensorsName, e.shape(), e.dtype().nd4j.isFPType())));
            case NPY -> out.put("array", Npy.describe(in, fileName));
            default -> read(in, fileName, null).forEach((n, a) ->
                    out.put(n, new Described(a.dataType().name(), a.shape(), a.dataType().isFPType())));
        }
        return out;
    }

    private static LinkedHashMap<String, INDArray> single(Npy.NpyArray a, String file, DataType dtype) {
        if (a.isStrings()) throw new BadInputException(file + ": holds strings, not a numeric tensor.");
        LinkedHashMap<String, INDArray> out = new LinkedHashMap<>();
        out.put("array", a.toINDArray(dtype));
        return out;
    }

    private static LinkedHashMap<String, INDArray> numeric(Map<String, Npy.NpyArray> arrays, String file, DataType dtype) {
        LinkedHashMap<String, INDArray> out = new LinkedHashMap<>();
        arrays.forEach((k, v) -> {
            if (!v.isStrings()) out.put(k, v.toINDArray(dtype));
        });
        return out;
    }
}
