package dev.avatartrain.train;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.tensors.Safetensors;

/**
 * The pieces of a checkpoint the workers write in parallel into {@code checkpoints/checkpoint-<step>/}: rank 0 the
 * parameters ({@link Checkpoints#MODEL}, PyTorch names, loads with {@code strict=True}), every rank the AdamW moments
 * of the flat ranges it owns ({@code optimizer-<rank>-of-<ranks>.safetensors}: 1-D {@code exp_avg} and
 * {@code exp_avg_sq}, the ranges in its metadata). The driver checks that the pieces cover the flat buffer exactly
 * ({@link #verify}) before it writes the state file that makes the checkpoint complete. Readers take any ranges, so a
 * run resumes with any number of workers; checkpoints of the single-file format ({@link Checkpoints#OPTIMIZER}) are
 * read too.
 */
public final class CheckpointPieces {
    private static final String PIECE = "optimizer-%05d-of-%05d.safetensors";
    private static final String RANGES = "ranges", TOTAL = "total";
    private static final int IO_FLOATS = 1 << 18;

    private CheckpointPieces() {}

    public static String optimizerPiece(int rank, int ranks) {
        return String.format(PIECE, rank, ranks);
    }

    /** Receives moments read back: {@code part} 0 {@code exp_avg}, 1 {@code exp_avg_sq}, from flat element {@code start}. */
    public interface MomentSink {
        void accept(int part, long start, FloatBuffer values);
    }

    /** Writes the parameters as {@link Checkpoints#MODEL} into {@code dir} (rank 0's piece). */
    public static void writeModel(Storage out, String dir, Map<String, INDArray> params, long step, String network) throws IOException {
        Map<String, String> meta = Map.of("format", "pt", "step", String.valueOf(step), "network", network);
        out.write(dir + "/" + Checkpoints.MODEL, o -> Safetensors.write(o, params, meta));
    }

    /**
     * Writes this rank's moments: {@code ranges} ({start, length}) and, per range, the buffers of {@code exp_avg} and
     * {@code exp_avg_sq} ({@code moments.get(i)[0]}, {@code [1]}, each exactly the range's length).
     */
    public static String writeMoments(Storage out, String dir, int rank, int ranks, long total, List<long[]> ranges,
                                      List<FloatBuffer[]> moments) throws IOException {
        long n = 0;
        StringBuilder r = new StringBuilder();
        for (long[] x : ranges) {
            n += x[1];
            r.append(r.length() == 0 ? "" : ",").append(x[0]).append(':').append(x[1]);
        }
        List<Safetensors.Streamed> tensors = new ArrayList<>();
        for (int part = 0; part < 2; part++) {
            int p = part;
            tensors.add(new Safetensors.Streamed(part == 0 ? "exp_avg" : "exp_avg_sq", DataType.FLOAT, new long[]{n}, o -> {
                for (FloatBuffer[] m : moments) writeFloats(m[p].duplicate(), o);
            }));
        }
        String name = optimizerPiece(rank, ranks);
        out.write(dir + "/" + name, o -> Safetensors.write(o, tensors, Map.of(RANGES, r.toString(), TOTAL, String.valueOf(total))));
        return name;
    }

    private static void writeFloats(FloatBuffer in, OutputStream o) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4 * IO_FLOATS).order(ByteOrder.LITTLE_ENDIAN);
        FloatBuffer f = b.asFloatBuffer();
        while (in.hasRemaining()) {
            int k = Math.min(IO_FLOATS, in.remaining());
            f.clear();
            int limit = in.limit();
            in.limit(in.position() + k);
            f.put(in);
            in.limit(limit);
            o.write(b.array(), 0, 4 * k);
        }
    }

    /** Reads {@link Checkpoints#MODEL} of {@code checkpoint} into a network's arrays, checking names and shapes. */
    public static void readModel(Storage checkpoint, String location, FlatLayout layout, Map<String, INDArray> params) throws IOException {
        Map<String, Integer> wanted = new LinkedHashMap<>();
        for (int t = 0; t < layout.names().size(); t++) wanted.put(layout.names().get(t), t);
        List<String> unexpected = new ArrayList<>();
        String file = location + "/" + Checkpoints.MODEL;
        try (InputStream s = checkpoint.open(Checkpoints.MODEL)) {
            Safetensors.stream(s, file, (name, dtype, shape, data) -> {
                Integer t = wanted.remove(name);
                if (t == null) {
                    unexpected.add(name);
                    data.readAllBytes();
                    return;
                }
                if (!java.util.Arrays.equals(shape, layout.shape(t)))
                    throw new BadInputException(file + ": \"" + name + "\" has shape " + java.util.Arrays.toString(shape)
                            + ", this network's is " + java.util.Arrays.toString(layout.shape(t)));
                if (dtype != DataType.FLOAT) throw new BadInputException(file + ": \"" + name + "\" is " + dtype + "; checkpoints hold float32");
                FloatBuffer into = layout.tensor(params.get(name), t);
                readFloats(data, into.remaining(), file, v -> into.put(v));
            });
        }
        if (!wanted.isEmpty() || !unexpected.isEmpty())
            throw new BadInputException(file + " does not fit this network: " + (wanted.isEmpty() ? "" : "missing " + wanted.keySet() + " ")
                    + (unexpected.isEmpty() ? "" : "unexpected " + unexpected));
    }

    /**
     * Reads the moments of {@code checkpoint} that fall into {@code wanted} ({start, length}) and hands them to
     * {@code sink}; fails unless every wanted element was read. Pieces of any rank count, or the single-file format.
     */
    public static void readMoments(Storage checkpoint, String location, FlatLayout layout, List<long[]> wanted, MomentSink sink)
            throws IOException {
        long[][] need = wanted.stream().filter(r -> r[1] > 0).sorted((a, b) -> Long.compare(a[0], b[0])).toArray(long[][]::new);
        long[] got = new long[2];
        List<String> pieces = new ArrayList<>();
        for (String n : checkpoint.list("")) if (n.matches("optimizer-\\d+-of-\\d+\\.safetensors")) pieces.add(n);
        if (pieces.isEmpty() && checkpoint.exists(Checkpoints.OPTIMIZER)) {
            Map<String, long[]> tensors = new LinkedHashMap<>();
            for (int t = 0; t < layout.names().size(); t++) {
                tensors.put(layout.names().get(t) + ".exp_avg", new long[]{0, layout.offset(t), layout.length(t)});
                tensors.put(layout.names().get(t) + ".exp_avg_sq", new long[]{1, layout.offset(t), layout.length(t)});
            }
            String file = location + "/" + Checkpoints.OPTIMIZER;
            try (InputStream s = checkpoint.open(Checkpoints.OPTIMIZER)) {
                Safetensors.stream(s, file, (name, dtype, shape, data) -> {
                    long[] at = tensors.get(name);
                    if (at == null || dtype != DataType.FLOAT) {
                        data.readAllBytes();
                        return;
                    }
                    got[(int) at[0]] += deliver(data, (int) at[0], at[1], at[2], need, sink, file);
                });
            }
        }
        for (String piece : pieces) {
            String file = location + "/" + piece;
            try (InputStream s = checkpoint.open(piece)) {
                long[][] ranges = ranges(piece, file, checkpoint);
                Safetensors.stream(s, file, (name, dtype, shape, data) -> {
                    int part = name.equals("exp_avg") ? 0 : name.equals("exp_avg_sq") ? 1 : -1;
                    if (part < 0 || dtype != DataType.FLOAT) throw new BadInputException(file + ": unexpected tensor \"" + name + "\"");
                    for (long[] r : ranges) got[part] += deliver(data, part, r[0], r[1], need, sink, file);
                });
            }
        }
        long needed = 0;
        for (long[] r : need) needed += r[1];
        if (got[0] != needed || got[1] != needed)
            throw new BadInputException(location + ": the checkpoint's optimizer state covers " + Math.min(got[0], got[1]) + " of the "
                    + needed + " elements this worker needs (pieces: " + pieces + "); it is incomplete or of another network");
    }

    private static long[][] ranges(String piece, String file, Storage checkpoint) throws IOException {
        Map<String, String> meta;
        try (InputStream s = checkpoint.open(piece)) {
            meta = Safetensors.readMetadata(s, file);
        }
        String r = meta.get(RANGES);
        if (r == null) throw new BadInputException(file + ": no \"" + RANGES + "\" in its metadata; not an optimizer piece");
        List<long[]> out = new ArrayList<>();
        if (!r.isEmpty()) for (String x : r.split(",")) {
            String[] p = x.split(":");
            out.add(new long[]{Long.parseLong(p[0]), Long.parseLong(p[1])});
        }
        return out.toArray(long[][]::new);
    }

    /** Streams {@code n} floats of flat range [start, start + n) and hands the parts inside {@code need} to the sink. */
    private static long deliver(InputStream data, int part, long start, long n, long[][] need, MomentSink sink, String file) throws IOException {
        long[] at = {start};
        long[] delivered = {0};
        readFloats(data, n, file, block -> {
            long from = at[0], to = from + block.remaining();
            for (long[] r : need) {
                long a = Math.max(from, r[0]), b = Math.min(to, r[0] + r[1]);
                if (a >= b) continue;
                FloatBuffer v = block.duplicate();
                v.position((int) (a - from)).limit((int) (b - from));
                sink.accept(part, a, v);
                delivered[0] += b - a;
            }
            at[0] = to;
        });
        return delivered[0];
    }

    private interface Block {
        void accept(FloatBuffer values);
    }

    private static void readFloats(InputStream data, long n, String file, Block block) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4 * (int) Math.min(IO_FLOATS, Math.max(1, n))).order(ByteOrder.LITTLE_ENDIAN);
        for (long done = 0; done < n; ) {
            int k = (int) Math.min(IO_FLOATS, n - done);
            if (data.readNBytes(b.array(), 0, 4 * k) < 4 * k) throw new BadInputException(file + ": ends inside its data");
            FloatBuffer f = b.asFloatBuffer();
            f.limit(k);
            block.accept(f);
            done += k;
        }
    }

    /**
     * The driver's check of the pieces in {@code dir} before it commits the checkpoint: the model file and one optimizer
     * piece per rank, whose ranges cover the flat buffer exactly once and agree with the model's element count.
     * Returns the problem, or null when the pieces are complete.
     */
    public static String verify(Storage out, String dir, int ranks) throws IOException {
        if (!out.exists(dir + "/" + Checkpoints.MODEL)) return dir + "/" + Checkpoints.MODEL + " is missing";
        long modelElements = 0;
        try (InputStream s = out.open(dir + "/" + Checkpoints.MODEL)) {
            for (Safetensors.Entry e : Safetensors.describe(s, dir + "/" + Checkpoints.MODEL).values()) {
                long k = 1;
                for (long d : e.shape()) k *= d;
                modelElements += k;
            }
        }
        TreeMap<Long, Long> covered = new TreeMap<>();
        for (int r = 0; r < ranks; r++) {
            String piece = optimizerPiece(r, ranks);
            if (!out.exists(dir + "/" + piece)) return dir + "/" + piece + " is missing";
            Map<String, String> meta;
            try (InputStream s = out.open(dir + "/" + piece)) {
                meta = Safetensors.readMetadata(s, piece);
            }
            if (!String.valueOf(modelElements).equals(meta.get(TOTAL)))
                return dir + "/" + piece + " is for " + meta.get(TOTAL) + " parameters, the model has " + modelElements;
            String rs = meta.getOrDefault(RANGES, "");
            if (!rs.isEmpty()) for (String x : rs.split(",")) {
                String[] p = x.split(":");
                if (covered.put(Long.parseLong(p[0]), Long.parseLong(p[1])) != null) return dir + ": range " + x + " written twice";
            }
        }
        long at = 0;
        for (Map.Entry<Long, Long> e : covered.entrySet()) {
            if (e.getKey() != at) return dir + ": the optimizer pieces leave elements " + at + " to " + e.getKey() + " uncovered or overlapping";
            at += e.getValue();
        }
        if (at != modelElements) return dir + ": the optimizer pieces cover " + at + " of " + modelElements + " elements";
        return null;
    }
}
