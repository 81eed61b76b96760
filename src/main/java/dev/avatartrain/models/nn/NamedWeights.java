package dev.avatartrain.models.nn;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import dev.avatartrain.errors.BadInputException;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Moves weights between a {@link Network} and a PyTorch-style state dict (name → tensor), name for name,
 * layout for layout. Loading is strict like {@code load_state_dict(strict=True)}: every problem is listed
 * in one {@link BadInputException}.
 */
public final class NamedWeights {
    private NamedWeights() {
    }

    /**
     * Copies {@code weights} into the network's parameters. Names in {@code weights} starting with
     * {@code prefix} have it removed; when the prefix is non-empty, names without it are ignored (a full
     * pipeline checkpoint may hold several networks). Missing, unexpected and wrongly shaped tensors are
     * reported together; nothing is copied unless all match. Values are cast to the graph's type.
     *
     * @param source the file name (or other description) used in the error message
     */
    public static void load(Network net, Map<String, INDArray> weights, String prefix, String source) {
        String p = prefix == null ? "" : prefix;
        Map<String, INDArray> stripped = new LinkedHashMap<>();
        for (Map.Entry<String, INDArray> e : weights.entrySet()) {
            if (e.getKey().startsWith(p)) {
                stripped.put(e.getKey().substring(p.length()), e.getValue());
            }
        }
        Map<String, INDArray> params = net.parameters();
        List<String> missing = new ArrayList<>();
        List<String> badShape = new ArrayList<>();
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            INDArray w = stripped.get(e.getKey());
            if (w == null) {
                missing.add(p + e.getKey());
            } else if (!Arrays.equals(w.shape(), e.getValue().shape())) {
                badShape.add(p + e.getKey() + " is " + Arrays.toString(w.shape()) + ", expected "
                        + Arrays.toString(e.getValue().shape()));
            }
        }
        Set<String> unexpected = new TreeSet<>();
        for (String k : stripped.keySet()) {
            if (!params.containsKey(k)) {
                unexpected.add(p + k);
            }
        }
        if (!missing.isEmpty() || !badShape.isEmpty() || !unexpected.isEmpty()) {
            StringBuilder sb = new StringBuilder("Weights in " + source + " do not match the network:");
            append(sb, "missing", missing);
            append(sb, "unexpected", new ArrayList<>(unexpected));
            append(sb, "wrong shape", badShape);
            throw new BadInputException(sb.toString());
        }
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            INDArray target = e.getValue();
            target.assign(stripped.get(e.getKey()).castTo(target.dataType()));
        }
    }

    /**
     * The prefix ("" or one of {@code candidates}, e.g. {@code "unet."}, {@code "audio_proj."}) under which the most
     * of {@code weights}' names are parameters of {@code net}: lets a file saved with or without a prefix load.
     */
    public static String guessPrefix(Network net, Map<String, INDArray> weights, String... candidates) {
        Set<String> names = new java.util.HashSet<>(net.parameterNames());
        String best = "";
        long bestCount = weights.keySet().stream().filter(names::contains).count();
        for (String c : candidates) {
            long n = weights.keySet().stream().filter(k -> k.startsWith(c) && names.contains(k.substring(c.length()))).count();
            if (n > bestCount) {
                best = c;
                bestCount = n;
            }
        }
        return best;
    }

    private static void append(StringBuilder sb, String what, List<String> items) {
        if (items.isEmpty()) {
            return;
        }
        sb.append(' ').append(items.size()).append(' ').append(what).append(" (");
        int shown = Math.min(items.size(), 20);
        sb.append(String.join(", ", items.subList(0, shown)));
        if (shown < items.size()) {
            sb.append(", ... ").append(items.size() - shown).append(" more");
        }
        sb.append(").");
    }

    /** Copies of all parameters by PyTorch name, cast to {@code dtype} (FLOAT, HALF, BFLOAT16 or DOUBLE). */
    public static Map<String, INDArray> export(Network net, DataType dtype) {
        Map<String, INDArray> out = new LinkedHashMap<>();
        for (Map.Entry<String, INDArray> e : net.parameters().entrySet()) {
            out.put(e.getKey(), e.getValue().castTo(dtype).dup());
        }
        return out;
    }
}
