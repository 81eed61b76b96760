package dev.avatartrain.train;

import java.io.IOException;
import java.io.InputStream;
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

    /** A checkpoint read back. */
    public record Loaded(String location, State state, NamedArrays params, NamedArrays optimizer) {}

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
    public String write(State state, NamedArrays params, NamedArrays optimizer) throws IOException {
        String dir = DIR + "/" + name(state.step());
        out.delete(dir + "/" + STATE); // an older, complete checkpoint of the same step is replaced, never half-mixed
        Map<String, String> meta = Map.of("format", "pt", "step", String.valueOf(state.step()), "network", state.network());
        out.write(dir + "/" + MODEL, o -> Safetensors.write(o, params.toINDArrays(), meta));
        out.write(dir + "/" + OPTIMIZER, o -> Safetensors.write(o, optimizer.toINDArrays(), Map.of("step", String.valueOf(state.step()))));
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

    /** Reads a checkpoint folder (local path, file://, s3a://). */
    public static Loaded load(String location, Configuration hadoop) {
        try (Storage in = Storage.forUrl(location, hadoop)) {
            if (!in.exists(STATE)) {
                throw new BadInputException(location + ": not a complete checkpoint (no " + STATE + "; a write was interrupted,"
                        + " or this is not a checkpoint folder)");
            }
            State state = JSON.readValue(in.readAll(STATE), State.class);
            return new Loaded(location, state, read(in, MODEL, location), read(in, OPTIMIZER, location));
        } catch (IOException e) {
            throw new BadInputException(location + ": cannot read checkpoint: " + e.getMessage(), e);
        }
    }

    private static NamedArrays read(Storage in, String file, String location) throws IOException {
        try (InputStream s = in.open(file)) {
            LinkedHashMap<String, INDArray> t = Safetensors.read(s, location + "/" + file, DataType.FLOAT).tensors();
            return NamedArrays.of(t);
        }
    }
}
