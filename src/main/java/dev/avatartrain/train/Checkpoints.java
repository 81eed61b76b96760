package dev.avatartrain.train;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import com.fasterxml.jackson.databind.ObjectMapper;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.tensors.Safetensors;

/**
 * Checkpoints under {@code output_dir/checkpoints/checkpoint-<step>/}, written by the driver only:
 * {@code model.safetensors} (parameters under their PyTorch names: loads with {@code strict=True}),
 * {@code optimizer.safetensors} (AdamW {@code exp_avg}/{@code exp_avg_sq} per parameter) and, last,
 * {@code training_state.json} (step, round, seed, config hash). Each file is written atomically and the state file
 * marks the checkpoint complete: a checkpoint without it (a crash mid-write) is ignored and replaced. The newest
 * {@code checkpoints_total_limit} complete ones are kept.
 */
public final class Checkpoints {
    public static final String DIR = "checkpoints";
    public static final String MODEL = "model.safetensors";
    public static final String OPTIMIZER = "optimizer.safetensors";
    public static final String STATE = "training_state.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Where training stood. {@code step} counts optimizer steps taken. */
    public record State(long step, long round, long seed, String configHash, String network, Map<String, Object> info) {}

    /** A checkpoint read back: its training state and the parameters and moments, in the chunks of the network's layout. */
    public record Loaded(String location, State state, ModelState model) {}

    private final Storage out;
    private final int limit;

    public Checkpoints(Storage outputDir, int limit) {
        this.out = outputDir;
        this.limit = limit;
    }

    public static String name(long step) {
        return "checkpoint-" + step;
    }

    /** Writes a checkpoint and prunes old ones; returns its location. */
    public String write(State state, ModelState model) throws IOException {
        String dir = DIR + "/" + name(state.step());
        out.delete(dir + "/" + STATE); // an older, complete checkpoint of the same step is replaced, never half-mixed
        Map<String, String> meta = Map.of("format", "pt", "step", String.valueOf(state.step()), "network", state.network());
        // streamed from the state's chunks: no second copy of the model is built
        out.write(dir + "/" + MODEL, o -> Safetensors.write(o, streamed(model, List.of(0), List.of("")), meta));
        out.write(dir + "/" + OPTIMIZER, o -> Safetensors.write(o, streamed(model, List.of(1, 2), List.of(".exp_avg", ".exp_avg_sq")),
                Map.of("step", String.valueOf(state.step()))));
        byte[] json = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(state);
        out.write(dir + "/" + STATE, o -> o.write(json));
        List<Long> steps = completeSteps();
        for (int i = 0; i < steps.size() - limit; i++) out.delete(DIR + "/" + name(steps.get(i)));
        return out.locations().get(0).child(dir);
    }

    /** Steps of the complete checkpoints, oldest first. */
    public List<Long> completeSteps() throws IOException {
        List<Long> steps = new ArrayList<>();
        if (!out.exists(DIR)) return steps;
        for (String n : out.list(DIR)) {
            if (!n.matches("checkpoint-\\d+")) continue;
            long s = Long.parseLong(n.substring("checkpoint-".length()));
            if (out.exists(DIR + "/" + n + "/" + STATE)) steps.add(s);
        }
        steps.sort(Comparator.naturalOrder());
        return steps;
    }

    /** The location of the newest complete checkpoint, or null. */
    public String latest() throws IOException {
        List<Long> s = completeSteps();
        return s.isEmpty() ? null : out.locations().get(0).child(DIR + "/" + name(s.get(s.size() - 1)));
    }

    /** The tensors of parts {@code parts} (0 parameters, 1 exp_avg, 2 exp_avg_sq) of {@code model}, named with {@code suffixes}. */
    private static List<Safetensors.Streamed> streamed(ModelState model, List<Integer> parts, List<String> suffixes) {
        FlatLayout layout = model.layout();
        List<Safetensors.Streamed> list = new ArrayList<>();
        for (int k = 0; k < parts.size(); k++) {
            float[][] chunks = model.chunksOf(parts.get(k));
            for (int t = 0; t < layout.names().size(); t++) {
                long from = layout.offset(t), n = layout.length(t);
                list.add(new Safetensors.Streamed(layout.names().get(t) + suffixes.get(k), DataType.FLOAT, layout.shape(t),
                        o -> writeFloats(model, chunks, from, n, o)));
            }
        }
        return list;
    }

    private static final int IO_FLOATS = 1 << 18; // 1 MiB of bytes at a time

    private static void writeFloats(ModelState model, float[][] chunks, long from, long n, OutputStream o) throws IOException {
        float[] f = new float[(int) Math.min(IO_FLOATS, n)];
        ByteBuffer b = ByteBuffer.allocate(f.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (long done = 0; done < n; ) {
            int k = (int) Math.min(f.length, n - done);
            model.copyOut(chunks, from + done, f, 0, k);
            b.clear();
            b.asFloatBuffer().put(f, 0, k);
            o.write(b.array(), 0, k * 4);
            done += k;
        }
    }

    /**
     * Reads a checkpoint folder (local path, file://, s3a://) into the chunks of {@code layout}, checking that it holds
     * exactly the layout's tensors (names and shapes) with both moments; tensors are streamed, not held.
     */
    public static Loaded load(String location, Configuration hadoop, FlatLayout layout) {
        try (Storage in = Storage.forUrl(location, hadoop)) {
            if (!in.exists(STATE)) {
                throw new BadInputException(location + ": not a complete checkpoint (no " + STATE + "; a write was interrupted,"
                        + " or this is not a checkpoint folder)");
            }
            State state = JSON.readValue(in.readAll(STATE), State.class);
            ModelState model = ModelState.zeros(layout, state.step());
            readInto(in, MODEL, location, model, List.of(0), List.of(""));
            readInto(in, OPTIMIZER, location, model, List.of(1, 2), List.of(".exp_avg", ".exp_avg_sq"));
            return new Loaded(location, state, model);
        } catch (IOException e) {
            throw new BadInputException(location + ": cannot read checkpoint: " + e.getMessage(), e);
        }
    }

    private static void readInto(Storage in, String file, String location, ModelState model, List<Integer> parts, List<String> suffixes)
            throws IOException {
        FlatLayout layout = model.layout();
        Map<String, int[]> wanted = new LinkedHashMap<>(); // name → {part, tensor}
        for (int k = 0; k < parts.size(); k++)
            for (int t = 0; t < layout.names().size(); t++) wanted.put(layout.names().get(t) + suffixes.get(k), new int[]{parts.get(k), t});
        List<String> unexpected = new ArrayList<>();
        try (InputStream s = in.open(file)) {
            Safetensors.stream(s, location + "/" + file, (name, dtype, shape, data) -> {
                int[] where = wanted.remove(name);
                if (where == null) {
                    unexpected.add(name);
                    data.readAllBytes();
                    return;
                }
                int t = where[1];
                if (!java.util.Arrays.equals(shape, layout.shape(t)))
                    throw new BadInputException(location + "/" + file + ": \"" + name + "\" has shape " + java.util.Arrays.toString(shape)
                            + ", this network's is " + java.util.Arrays.toString(layout.shape(t)));
                if (dtype != DataType.FLOAT)
                    throw new BadInputException(location + "/" + file + ": \"" + name + "\" is " + dtype + "; checkpoints hold float32");
                readFloats(data, model, model.chunksOf(where[0]), layout.offset(t), layout.length(t), location + "/" + file);
            });
        }
        if (!wanted.isEmpty() || !unexpected.isEmpty())
            throw new BadInputException(location + "/" + file + " does not fit this network: " + (wanted.isEmpty() ? "" : "missing " + wanted.keySet()
                    + (unexpected.isEmpty() ? "" : "; ")) + (unexpected.isEmpty() ? "" : "unexpected " + unexpected));
    }

    private static void readFloats(InputStream data, ModelState model, float[][] chunks, long to, long n, String file) throws IOException {
        float[] f = new float[(int) Math.min(IO_FLOATS, n)];
        for (long done = 0; done < n; ) {
            int k = (int) Math.min(f.length, n - done);
            byte[] b = data.readNBytes(k * 4);
            if (b.length < k * 4) throw new BadInputException(file + ": ends inside its data");
            ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f, 0, k);
            model.copyIn(f, 0, chunks, to + done, k);
            done += k;
        }
    }
}
