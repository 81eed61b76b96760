package dev.avatartrain.train;

import java.io.Serializable;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Named tensors laid end to end as one flat float32 buffer, cut into chunks of {@code chunkFloats} elements (the last
 * one shorter): the unit the engine moves, reduces and checkpoints. A chunk may hold the tail of one tensor and the
 * head of the next. Offsets are {@code long}: nothing here is limited to 2³¹ elements.
 */
public final class FlatLayout implements Serializable {
    private static final long serialVersionUID = 1L;

    private final List<String> names;
    private final List<long[]> shapes;
    private final long[] offsets; // offsets[i] = first flat element of tensor i; offsets[n] = total
    private final int chunkFloats;

    FlatLayout(List<String> names, List<long[]> shapes, int chunkFloats) {
        if (chunkFloats < 1) throw new IllegalArgumentException("chunk size must be >= 1 float, got " + chunkFloats);
        this.names = List.copyOf(names);
        this.shapes = List.copyOf(shapes);
        this.offsets = new long[names.size() + 1];
        for (int i = 0; i < names.size(); i++) offsets[i + 1] = offsets[i] + Arrays.stream(shapes.get(i)).reduce(1, Math::multiplyExact);
        this.chunkFloats = chunkFloats;
    }

    /** The layout of {@code arrays} in map order (e.g. a network's parameters). */
    public static FlatLayout of(Map<String, INDArray> arrays, int chunkFloats) {
        List<String> names = new ArrayList<>();
        List<long[]> shapes = new ArrayList<>();
        arrays.forEach((n, a) -> {
            names.add(n);
            shapes.add(a.shape());
        });
        return new FlatLayout(names, shapes, chunkFloats);
    }

    public List<String> names() {
        return names;
    }

    public long[] shape(int tensor) {
        return shapes.get(tensor).clone();
    }

    /** First flat element of tensor {@code i}. */
    public long offset(int tensor) {
        return offsets[tensor];
    }

    public long length(int tensor) {
        return offsets[tensor + 1] - offsets[tensor];
    }

    /** Elements in all tensors. */
    public long total() {
        return offsets[names.size()];
    }

    public int chunkFloats() {
        return chunkFloats;
    }

    public int chunks() {
        return (int) Math.max(1, (total() + chunkFloats - 1) / chunkFloats);
    }

    public int chunkLength(int chunk) {
        return (int) Math.min(chunkFloats, total() - (long) chunk * chunkFloats);
    }

    /** Copies flat elements [chunk start, chunk end) of {@code arrays} (same names and shapes, map order) into {@code out}. */
    public void gather(Map<String, INDArray> arrays, int chunk, float[] out) {
        List<INDArray> list = check(arrays);
        long start = (long) chunk * chunkFloats, end = start + chunkLength(chunk);
        for (int t = first(start); t < names.size() && offsets[t] < end; t++) {
            long from = Math.max(start, offsets[t]), to = Math.min(end, offsets[t + 1]);
            if (to <= from) continue;
            FloatBuffer b = floats(list.get(t), names.get(t), false);
            b.position((int) (from - offsets[t]));
            b.get(out, (int) (from - start), (int) (to - from));
        }
    }

    /** Copies {@code values} (chunk {@code chunk} of the flat buffer) into the matching ranges of {@code arrays}. */
    public void scatter(float[] values, int chunk, Map<String, INDArray> arrays) {
        List<INDArray> list = check(arrays);
        if (values.length != chunkLength(chunk))
            throw new IllegalArgumentException("chunk " + chunk + " has " + values.length + " values, the layout " + chunkLength(chunk));
        long start = (long) chunk * chunkFloats, end = start + values.length;
        for (int t = first(start); t < names.size() && offsets[t] < end; t++) {
            long from = Math.max(start, offsets[t]), to = Math.min(end, offsets[t + 1]);
            if (to <= from) continue;
            FloatBuffer b = floats(list.get(t), names.get(t), true);
            b.position((int) (from - offsets[t]));
            b.put(values, (int) (from - start), (int) (to - from));
        }
    }

    /**
     * Copies flat elements [{@code start}, {@code start + out.remaining()}) of {@code arrays} (same names and shapes,
     * map order) into {@code out} from its position, which advances.
     */
    public void read(Map<String, INDArray> arrays, long start, FloatBuffer out) {
        List<INDArray> list = check(arrays);
        long end = start + out.remaining();
        for (int t = first(start); t < names.size() && offsets[t] < end; t++) {
            long from = Math.max(start, offsets[t]), to = Math.min(end, offsets[t + 1]);
            if (to <= from) continue;
            FloatBuffer b = floats(list.get(t), names.get(t), false);
            b.position((int) (from - offsets[t])).limit((int) (to - offsets[t]));
            out.put(b);
        }
    }

    /** Copies {@code in} (from its position, which advances) into flat elements from {@code start} of {@code arrays}. */
    public void write(FloatBuffer in, long start, Map<String, INDArray> arrays) {
        List<INDArray> list = check(arrays);
        long end = start + in.remaining();
        int limit = in.limit();
        for (int t = first(start); t < names.size() && offsets[t] < end; t++) {
            long from = Math.max(start, offsets[t]), to = Math.min(end, offsets[t + 1]);
            if (to <= from) continue;
            FloatBuffer b = floats(list.get(t), names.get(t), true);
            b.position((int) (from - offsets[t]));
            in.limit(in.position() + (int) (to - from));
            b.put(in);
            in.limit(limit);
        }
    }

    /** The elements of tensor {@code t} of a network's arrays as a buffer from its first element (no copy). */
    public FloatBuffer tensor(INDArray a, int t) {
        if (!Arrays.equals(a.shape(), shapes.get(t)))
            throw new IllegalArgumentException("\"" + names.get(t) + "\" is " + Arrays.toString(a.shape()) + ", the layout has "
                    + Arrays.toString(shapes.get(t)));
        FloatBuffer b = floats(a, names.get(t), false);
        return b.limit((int) length(t)).slice();
    }

    /** The tensor holding flat element {@code at} (the first one, if empty tensors precede it). */
    private int first(long at) {
        int i = Arrays.binarySearch(offsets, at);
        if (i < 0) return -i - 2;
        while (i > 0 && offsets[i - 1] == at) i--;
        return Math.min(i, names.size() - 1);
    }

    private List<INDArray> check(Map<String, INDArray> arrays) {
        if (arrays.size() != names.size())
            throw new IllegalArgumentException("expected " + names.size() + " tensors, got " + arrays.size());
        List<INDArray> list = new ArrayList<>(arrays.size());
        int i = 0;
        for (Map.Entry<String, INDArray> e : arrays.entrySet()) {
            if (!e.getKey().equals(names.get(i)) || !Arrays.equals(e.getValue().shape(), shapes.get(i)))
                throw new IllegalArgumentException("tensor " + i + " is \"" + e.getKey() + "\" " + Arrays.toString(e.getValue().shape())
                        + ", the layout has \"" + names.get(i) + "\" " + Arrays.toString(shapes.get(i)));
            list.add(e.getValue());
            i++;
        }
        return list;
    }

    /** The elements of a dense C-order float32 array, indexed from 0. */
    private static FloatBuffer floats(INDArray a, String name, boolean writing) {
        if (a.dataType() != DataType.FLOAT || !dense(a))
            throw new IllegalArgumentException("\"" + name + "\" must be a dense C-order float32 array to be " + (writing ? "written" : "read")
                    + " as chunks, got " + a.shapeInfoToString());
        FloatBuffer b = a.data().asNioFloat();
        b.position((int) a.offset());
        return b.slice();
    }

    private static boolean dense(INDArray a) {
        long expected = 1;
        for (int i = a.rank() - 1; i >= 0; i--) {
            if (a.size(i) != 1 && a.stride(i) != expected) return false;
            expected *= a.size(i);
        }
        return true;
    }
}
