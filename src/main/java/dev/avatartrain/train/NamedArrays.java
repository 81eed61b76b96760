package dev.avatartrain.train;

import java.io.Serializable;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Named float32 arrays as plain Java arrays: what crosses between driver and workers (broadcast, task results,
 * {@code treeReduce}) and into checkpoints. Plain {@code float[]} serialise compactly with any Spark serializer and
 * do not depend on ND4J's workspace or device state.
 */
public final class NamedArrays implements Serializable {
    private static final long serialVersionUID = 1L;

    private final LinkedHashMap<String, long[]> shapes = new LinkedHashMap<>();
    private final LinkedHashMap<String, float[]> values = new LinkedHashMap<>();

    /** Copies of {@code arrays}' values (any dtype, converted to float32), in map order. */
    public static NamedArrays of(Map<String, INDArray> arrays) {
        NamedArrays out = new NamedArrays();
        arrays.forEach((n, a) -> {
            out.shapes.put(n, a.shape());
            out.values.put(n, a.castTo(DataType.FLOAT).dup('c').data().asFloat());
        });
        return out;
    }

    /** Zeros shaped like {@code arrays}. */
    public static NamedArrays zerosLike(Map<String, INDArray> arrays) {
        NamedArrays out = new NamedArrays();
        arrays.forEach((n, a) -> {
            out.shapes.put(n, a.shape());
            out.values.put(n, new float[(int) a.length()]);
        });
        return out;
    }

    public java.util.Set<String> names() {
        return values.keySet();
    }

    public int size() {
        return values.size();
    }

    public long[] shape(String name) {
        return shapes.get(name);
    }

    public float[] values(String name) {
        return values.get(name);
    }

    /** New ND4J arrays (float32) of every entry. */
    public LinkedHashMap<String, INDArray> toINDArrays() {
        LinkedHashMap<String, INDArray> out = new LinkedHashMap<>();
        values.forEach((n, v) -> out.put(n, Nd4j.create(v, shapes.get(n), 'c')));
        return out;
    }

    /** Copies the values into {@code targets} (same names and shapes), e.g. a network's live parameters. */
    public void copyInto(Map<String, INDArray> targets) {
        for (Map.Entry<String, INDArray> e : targets.entrySet()) {
            float[] v = values.get(e.getKey());
            if (v == null) throw new IllegalArgumentException("no values for \"" + e.getKey() + "\"");
            if (!Arrays.equals(shapes.get(e.getKey()), e.getValue().shape()))
                throw new IllegalArgumentException("\"" + e.getKey() + "\" has shape " + Arrays.toString(shapes.get(e.getKey()))
                        + ", the target " + Arrays.toString(e.getValue().shape()));
            e.getValue().assign(Nd4j.create(v, shapes.get(e.getKey()), 'c').castTo(e.getValue().dataType()));
        }
    }

    /** Adds {@code other} elementwise into this (same names and shapes); returns this. */
    public NamedArrays addInPlace(NamedArrays other) {
        if (!values.keySet().equals(other.values.keySet()))
            throw new IllegalArgumentException("cannot add arrays with different names");
        for (Map.Entry<String, float[]> e : values.entrySet()) {
            float[] a = e.getValue(), b = other.values.get(e.getKey());
            if (a.length != b.length) throw new IllegalArgumentException("\"" + e.getKey() + "\": " + a.length + " vs " + b.length);
            for (int i = 0; i < a.length; i++) a[i] += b[i];
        }
        return this;
    }

    /** Multiplies every value by {@code factor}; returns this. */
    public NamedArrays scaleInPlace(double factor) {
        float f = (float) factor;
        for (float[] a : values.values()) for (int i = 0; i < a.length; i++) a[i] *= f;
        return this;
    }

    /** Whether every value is finite. */
    public boolean allFinite() {
        for (float[] a : values.values()) for (float x : a) if (!Float.isFinite(x)) return false;
        return true;
    }
}
