package dev.avatartrain.train;

import java.util.LinkedHashMap;
import java.util.Map;

import org.nd4j.linalg.api.ndarray.INDArray;

import dev.avatartrain.models.nn.Network;

/**
 * The driver's one copy of what training carries between rounds: the parameters and both AdamW moments
 * ({@code exp_avg}, {@code exp_avg_sq}), each as the chunks of a {@link FlatLayout} (plain {@code float[]}, none larger
 * than a chunk), and the optimizer's step count (= optimizer steps taken). The moments are allocated on first use,
 * so a driver that makes the state from its network (and then releases the network) never holds both a network and
 * the whole state.
 */
public final class ModelState {
    /**
     * Default chunk: 32 MiB of float32 less 32 bytes (fits Kryo's default 64 MiB buffer and any task result limit).
     * The 32 bytes leave room for the array's header, so a chunk fills whole G1 regions (1–32 MiB, powers of two)
     * with nothing to spare: a chunk of exactly 8 Mi floats spills 16 bytes into one more region, and with the 8 MiB
     * regions of a 16–32 GB heap that wasted a fifth of the state.
     */
    public static final int DEFAULT_CHUNK_FLOATS = (8 << 20) - 8;

    private final FlatLayout layout;
    private final float[][] params;
    private float[][] expAvg; // null until first used (zeros)
    private float[][] expAvgSq;
    private long step;

    private ModelState(FlatLayout layout, long step) {
        this.layout = layout;
        this.params = zeros(layout);
        this.step = step;
    }

    private static float[][] zeros(FlatLayout layout) {
        float[][] a = new float[layout.chunks()][];
        for (int c = 0; c < a.length; c++) a[c] = new float[layout.chunkLength(c)];
        return a;
    }

    private void allocateMoments() {
        if (expAvg != null) return;
        expAvg = zeros(layout);
        expAvgSq = zeros(layout);
    }

    /** The network's parameters, zero moments, step 0. */
    public static ModelState of(Network net, int chunkFloats) {
        return of(net.parameters(), chunkFloats);
    }

    /** These named arrays as parameters (in map order), zero moments, step 0. */
    public static ModelState of(Map<String, INDArray> p, int chunkFloats) {
        ModelState s = new ModelState(FlatLayout.of(p, chunkFloats), 0);
        for (int c = 0; c < s.params.length; c++) s.layout.gather(p, c, s.params[c]);
        return s;
    }

    /** Zeros of {@code layout} at {@code step} (filled by a checkpoint read). */
    static ModelState zeros(FlatLayout layout, long step) {
        return new ModelState(layout, step);
    }

    public FlatLayout layout() {
        return layout;
    }

    public long step() {
        return step;
    }

    void setStep(long step) {
        this.step = step;
    }

    /** Chunk {@code c} of the parameters (the live array). */
    public float[] params(int c) {
        return params[c];
    }

    public float[] expAvg(int c) {
        allocateMoments();
        return expAvg[c];
    }

    public float[] expAvgSq(int c) {
        allocateMoments();
        return expAvgSq[c];
    }

    /** The chunks of one of the three flat buffers: 0 parameters, 1 exp_avg, 2 exp_avg_sq. */
    float[] part(int which, int c) {
        if (which > 0) allocateMoments();
        return switch (which) {
            case 0 -> params[c];
            case 1 -> expAvg[c];
            case 2 -> expAvgSq[c];
            default -> throw new IllegalArgumentException("part " + which);
        };
    }

    /** Copies the parameters into a network of the same architecture (e.g. the driver's, for validation). */
    public void copyInto(Network net) {
        Map<String, INDArray> p = net.parameters();
        for (int c = 0; c < params.length; c++) layout.scatter(params[c], c, p);
    }

    /** Bytes of the state (parameters and both moments). */
    public long bytes() {
        return 3 * 4 * layout.total();
    }

    /** Whether every parameter is finite. */
    public boolean paramsFinite() {
        for (float[] a : params) for (float x : a) if (!Float.isFinite(x)) return false;
        return true;
    }

    /** Copies of the parameters by name (tests and small models only: this is a second full copy). */
    public Map<String, float[]> paramsByName() {
        return byName(params);
    }

    /** Copies of the moments by name, {@code <name>.exp_avg} and {@code <name>.exp_avg_sq} (tests and small models only). */
    public Map<String, float[]> momentsByName() {
        allocateMoments();
        Map<String, float[]> m = byName(expAvg), v = byName(expAvgSq);
        Map<String, float[]> out = new LinkedHashMap<>();
        m.forEach((n, a) -> {
            out.put(n + ".exp_avg", a);
            out.put(n + ".exp_avg_sq", v.get(n));
        });
        return out;
    }

    private Map<String, float[]> byName(float[][] chunks) {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (int t = 0; t < layout.names().size(); t++) {
            float[] a = new float[(int) layout.length(t)];
            copyOut(chunks, layout.offset(t), a, 0, a.length);
            out.put(layout.names().get(t), a);
        }
        return out;
    }

    /** Copies {@code n} flat elements from {@code from} of a chunked buffer into {@code out}. */
    void copyOut(float[][] chunks, long from, float[] out, int at, int n) {
        int size = layout.chunkFloats();
        while (n > 0) {
            int c = (int) (from / size), o = (int) (from % size);
            int k = Math.min(n, chunks[c].length - o);
            System.arraycopy(chunks[c], o, out, at, k);
            from += k;
            at += k;
            n -= k;
        }
    }

    /** Copies {@code n} elements of {@code in} into a chunked buffer from flat element {@code to}. */
    void copyIn(float[] in, int at, float[][] chunks, long to, int n) {
        int size = layout.chunkFloats();
        while (n > 0) {
            int c = (int) (to / size), o = (int) (to % size);
            int k = Math.min(n, chunks[c].length - o);
            System.arraycopy(in, at, chunks[c], o, k);
            to += k;
            at += k;
            n -= k;
        }
    }

    float[][] chunksOf(int which) {
        if (which > 0) allocateMoments();
        return switch (which) {
            case 0 -> params;
            case 1 -> expAvg;
            case 2 -> expAvgSq;
            default -> throw new IllegalArgumentException("part " + which);
        };
    }
}
