package dev.avatartrain.train;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

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
import java.util.TreeMap;

import org.apache.hadoop.conf.Configuration;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.tensors.Safetensors;

/**
 * Checkpoints under {@code output_dir/checkpoints/checkpoint-<step>/}: {@code model.safetensors} (parameters under
 * their PyTorch names: loads with {@code strict=True}), the AdamW moments (written by the workers in pieces,
 * {@link CheckpointPieces}; or, from one process, {@code optimizer.safetensors} with {@code exp_avg}/{@code exp_avg_sq}
 * per parameter) and, last, written by the driver, {@code training_state.json} (step, round, seed, config hash, run id, format version). Each file is written
 * atomically and the state file marks the checkpoint complete: a checkpoint without it (a crash mid-write) is ignored
 * and replaced, and the temporary files such a crash leaves are removed when the next run starts.
 *
 * <p>Runs own their checkpoints: a run gets an id when it starts fresh and keeps it when resumed ({@link #claim});
 * pruning keeps the newest {@code checkpoints_total_limit} checkpoints <em>of this run</em> and never touches another
 * run's. A run does not start into a folder holding another run's checkpoints unless asked to move them aside.
 */
public final class Checkpoints {
    private static final Logger LOG = LoggerFactory.getLogger(Checkpoints.class);
    public static final String DIR = "checkpoints";
    public static final String MODEL = "model.safetensors";
    public static final String OPTIMIZER = "optimizer.safetensors";
    public static final String STATE = "training_state.json";
    /** Where the {@code --overwrite} option moves an earlier run's checkpoints and outputs. */
    public static final String PREVIOUS_RUNS = "previous-runs";
    /** {@code training_state.json}'s format: 1 had no run id and no version field; 2 added both. */
    public static final int FORMAT_VERSION = 2;
    /** The run id of checkpoints written before runs had ids (format 1); a run resumed from one keeps it. */
    public static final String UNRECORDED_RUN = "unrecorded";
    private static final ObjectMapper JSON = new ObjectMapper();

    /**
     * Where training stood. {@code step} counts optimizer steps taken; {@code runId} and {@code formatVersion} are
     * set by {@link #write} (the short constructor leaves them to it).
     */
    public record State(long step, long round, long seed, String configHash, String network, Map<String, Object> info, String runId,
                        int formatVersion) {
        public State(long step, long round, long seed, String configHash, String network, Map<String, Object> info) {
            this(step, round, seed, configHash, network, info, null, FORMAT_VERSION);
        }
    }

    /** The run a job trains: its id and the checkpoint it resumes from (null: a fresh start), decided by {@link #claim}. */
    public record Run(String id, String resumeFrom) {}

    /** How the refusal message tells the user to go on: the resume override and the option naming the output folder. */
    public record Hints(String resumeLatest, String outputDirOption) {
        public static final Hints TRAIN = new Hints("--set model.resume_from_checkpoint=latest", "data.output_dir");
        public static final Hints ADAPTER = new Hints("--set resume_from_checkpoint=latest", "--output-dir");
    }

    /** A checkpoint read back: its training state and the parameters and moments, in the chunks of the network's layout. */
    public record Loaded(String location, State state, ModelState model) {}

    private final Storage out;
    private final int limit;
    private final String runId;

    /** Checkpoints of the run {@code runId} (from {@link #claim}); null: pruning considers every checkpoint. */
    public Checkpoints(Storage outputDir, int limit, String runId) {
        this.out = outputDir;
        this.limit = limit;
        this.runId = runId;
    }

    public Checkpoints(Storage outputDir, int limit) {
        this(outputDir, limit, null);
    }

    public static String name(long step) {
        return "checkpoint-" + step;
    }

    /** Writes a checkpoint (stamped with this run's id and the format version) and prunes this run's old ones; returns its location. */
    public String write(State given, ModelState model) throws IOException {
        State state = given;
        String dir = DIR + "/" + name(state.step());
        out.delete(dir + "/" + STATE); // an older, complete checkpoint of the same step is replaced, never half-mixed
        Map<String, String> meta = Map.of("format", "pt", "step", String.valueOf(state.step()), "network", state.network());
        // streamed from the state's chunks: no second copy of the model is built
        out.write(dir + "/" + MODEL, o -> Safetensors.write(o, streamed(model, List.of(0), List.of("")), meta));
        out.write(dir + "/" + OPTIMIZER, o -> Safetensors.write(o, streamed(model, List.of(1, 2), List.of(".exp_avg", ".exp_avg_sq")),
                Map.of("step", String.valueOf(state.step()))));
        return commit(given);
    }

    /**
     * Completes the checkpoint of {@code given.step()} whose model and optimizer files are written (by the workers,
     * {@link CheckpointPieces}; the caller verified them): writes the state file, stamped with this run's id and the
     * format version, atomically and last, then prunes this run's old checkpoints. Returns its location.
     */
    public String commit(State given) throws IOException {
        State state = new State(given.step(), given.round(), given.seed(), given.configHash(), given.network(), given.info(), runId,
                FORMAT_VERSION);
        String dir = DIR + "/" + name(state.step());
        byte[] json = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(state);
        out.write(dir + "/" + STATE, o -> o.write(json));
        List<Long> steps = runId == null ? completeSteps() : new ArrayList<>(runs().getOrDefault(runId, List.of()));
        for (int i = 0; i < steps.size() - limit; i++) out.delete(DIR + "/" + name(steps.get(i)));
        return out.locations().get(0).child(dir);
    }

    /** The complete checkpoints under this output folder by run id (format 1: {@value #UNRECORDED_RUN}), steps oldest first. */
    public Map<String, List<Long>> runs() throws IOException {
        Map<String, List<Long>> runs = new TreeMap<>();
        for (long s : completeSteps()) {
            String rel = DIR + "/" + name(s) + "/" + STATE;
            State st;
            try {
                st = parseState(out.readAll(rel), out.locations().get(0).child(rel));
            } catch (BadInputException | IOException e) { // a damaged state file: not a checkpoint to resume or prune
                LOG.info("train: " + out.locations().get(0).child(DIR + "/" + name(s)) + " is unreadable and left alone: "
                        + e.getMessage());
                continue;
            }
            runs.computeIfAbsent(st.runId(), k -> new ArrayList<>()).add(s);
        }
        return runs;
    }

    /**
     * Decides, before a job writes anything, which run it trains: a fresh run (new id) or the run of the checkpoint
     * {@code resumeSetting} names ({@code latest}: the newest under {@code output_dir}). Removes the temporary files
     * an interrupted checkpoint write left. Checkpoints of another run (or of this run past the resumed step) stop
     * the job with a message naming them and the ways on, unless {@code overwrite}: then they are moved under
     * {@value #PREVIOUS_RUNS}/, together with {@code runOutputs} (metrics, plots, exports) when the run starts fresh.
     */
    public static Run claim(Storage out, String resumeSetting, boolean overwrite, List<String> runOutputs, Hints hints,
                            Configuration hadoop) throws IOException {
        removeLeftovers(out);
        Checkpoints all = new Checkpoints(out, Integer.MAX_VALUE);
        Map<String, List<Long>> runs = all.runs();
        String here = out.locations().get(0).child(DIR);
        String resume = null;
        String id;
        long resumedStep = -1;
        if (resumeSetting != null && resumeSetting.equals("latest")) {
            if (runs.size() > 1) {
                throw new BadInputException("resume_from_checkpoint is \"latest\" but " + here + " holds checkpoints of " + runs.size()
                        + " runs (" + describe(runs) + "); name the checkpoint folder to resume from instead");
            }
            if (runs.isEmpty()) {
                LOG.info("train: resume_from_checkpoint is \"latest\" but there is no checkpoint yet; starting fresh");
            } else {
                List<Long> steps = runs.values().iterator().next();
                for (int i = steps.size() - 1; i >= 0 && resume == null; i--) {
                    String problem = all.problem(steps.get(i));
                    if (problem == null) resume = out.locations().get(0).child(DIR + "/" + name(steps.get(i)));
                    else LOG.info("train: skipping " + name(steps.get(i)) + " for \"latest\": " + problem);
                }
                if (resume == null) {
                    throw new BadInputException(here + ": no checkpoint there is readable (see above); start a new run with"
                            + " another " + hints.outputDirOption() + ", or add --overwrite to move them aside.");
                }
            }
        } else if (resumeSetting != null && !resumeSetting.isBlank()) {
            resume = resumeSetting;
        }
        if (resume != null) {
            State s = readState(resume, hadoop);
            id = s.runId();
            resumedStep = s.step();
        } else {
            id = newRunId();
        }
        Map<String, List<Long>> foreign = new TreeMap<>();
        List<Long> abandoned = new ArrayList<>(); // this run's checkpoints past the one resumed: another trajectory now
        for (Map.Entry<String, List<Long>> r : runs.entrySet()) {
            for (long step : r.getValue()) {
                if (!r.getKey().equals(id)) foreign.computeIfAbsent(r.getKey(), k -> new ArrayList<>()).add(step);
                else if (resume != null && step > resumedStep && isHere(out, resume)) abandoned.add(step);
                else if (resume != null && step > resumedStep) {
                    foreign.computeIfAbsent(r.getKey(), k -> new ArrayList<>()).add(step);
                }
            }
        }
        if (!abandoned.isEmpty() && (foreign.isEmpty() || overwrite)) {
            String aside = PREVIOUS_RUNS + "/" + java.time.LocalDateTime.now().format(STAMP);
            for (long step : abandoned) out.move(DIR + "/" + name(step), aside + "/" + DIR + "/" + name(step));
            LOG.info("train: resuming run " + id + " from step " + resumedStep + "; its later "
                    + String.join(", ", abandoned.stream().map(Checkpoints::name).toList()) + " moved to "
                    + out.locations().get(0).child(aside) + " (the run continues from the earlier one)");
        }
        if (!foreign.isEmpty() && !overwrite) {
            String what = resume == null ? "A new run (id " + id + ") would mix its checkpoints with theirs and prune by step number"
                    : "Resuming run " + id + " from step " + resumedStep + " would mix its checkpoints with these";
            throw new BadInputException(here + " holds checkpoints of another run: " + describe(foreign) + ". " + what
                    + ". To continue the run there: " + hints.resumeLatest() + "; to start a new run: give a new "
                    + hints.outputDirOption() + " (or add --overwrite to move those checkpoints aside into " + PREVIOUS_RUNS + "/).");
        }
        if (overwrite && (!foreign.isEmpty() || resume == null)) {
            String aside = PREVIOUS_RUNS + "/" + java.time.LocalDateTime.now().format(STAMP);
            List<String> moved = new ArrayList<>();
            for (Map.Entry<String, List<Long>> r : foreign.entrySet()) {
                for (long step : r.getValue()) {
                    out.move(DIR + "/" + name(step), aside + "/" + DIR + "/" + name(step));
                    moved.add(DIR + "/" + name(step));
                }
            }
            if (resume == null) {
                for (String f : runOutputs) {
                    if (!out.exists(f)) continue;
                    out.move(f, aside + "/" + f);
                    moved.add(f);
                }
            }
            if (!moved.isEmpty()) {
                LOG.info("train: --overwrite: moved the earlier run's " + String.join(", ", moved) + " to "
                        + out.locations().get(0).child(aside));
            }
        }
        return new Run(id, resume);
    }

    private static final java.time.format.DateTimeFormatter STAMP = java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss-SSS");

    private static String newRunId() {
        return java.time.LocalDateTime.now().format(java.time.format.DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss-"))
                + String.format("%06x", new java.security.SecureRandom().nextInt(1 << 24));
    }

    private static String describe(Map<String, List<Long>> runs) {
        List<String> parts = new ArrayList<>();
        runs.forEach((run, steps) -> parts.add("run " + run + ": " + String.join(", ", steps.stream().map(Checkpoints::name).toList())));
        return String.join("; ", parts);
    }

    /**
     * Removes the temporary files ({@code .<name>.<random>.tmp}) that a checkpoint or metrics write interrupted by a
     * crash or kill left in {@code checkpoints/checkpoint-N/} and in {@code output_dir} itself; returns them.
     */
    public static List<String> removeLeftovers(Storage out) throws IOException {
        List<String> removed = new ArrayList<>();
        if (!out.exists("")) return removed;
        List<String> folders = new ArrayList<>(List.of(""));
        if (out.exists(DIR)) for (String n : out.list(DIR)) if (n.matches("checkpoint-\\d+")) folders.add(DIR + "/" + n);
        for (String f : folders) {
            for (String n : out.list(f)) {
                if (!n.startsWith(".") || !n.endsWith(".tmp")) continue;
                String rel = f.isEmpty() ? n : f + "/" + n;
                if (out.delete(rel)) removed.add(rel);
            }
        }
        if (!removed.isEmpty()) {
            LOG.info("train: removed " + removed.size() + " temporary file(s) of an interrupted write: " + String.join(", ", removed));
        }
        return removed;
    }

    /** Whether a checkpoint location is one of this output folder's own checkpoints. */
    private static boolean isHere(Storage out, String location) {
        String l = comparable(location);
        return l.substring(0, Math.max(0, l.lastIndexOf('/'))).equals(comparable(out.locations().get(0).child(DIR)));
    }

    /** A location as an absolute, normalised path (local files) or URL without a trailing '/'. */
    private static String comparable(String location) {
        String l = location.endsWith("/") ? location.substring(0, location.length() - 1) : location;
        if (l.startsWith("file:")) return java.nio.file.Path.of(java.net.URI.create(l)).normalize().toString();
        if (!l.matches("^[a-zA-Z][a-zA-Z0-9+.-]*://.*")) {
            return java.nio.file.Path.of(l).toAbsolutePath().normalize().toString();
        }
        return l;
    }

    /**
     * Why the complete checkpoint of {@code step} cannot be resumed from (a weights or optimizer file missing, or
     * shorter or longer than its header says: truncated or damaged), or null when it can.
     */
    String problem(long step) {
        String dir = DIR + "/" + name(step);
        try {
            Map<String, Storage.Entry> files = out.listEntries(dir, true);
            // the model, and the optimizer state: one file from one process, or the workers' pieces (CheckpointPieces)
            List<String> check = new java.util.ArrayList<>(List.of(MODEL));
            if (files.containsKey(OPTIMIZER)) {
                check.add(OPTIMIZER);
            } else {
                files.keySet().stream().filter(n -> n.matches("optimizer-\\d+-of-\\d+\\.safetensors")).sorted()
                        .forEach(check::add);
                if (check.size() == 1) return "its optimizer state (" + OPTIMIZER + " or the workers' pieces) is missing";
            }
            for (String f : check) {
                Storage.Entry e = files.get(f);
                if (e == null) return f + " is missing";
                long header, end = 0;
                try (InputStream in = out.open(dir + "/" + f)) {
                    byte[] len = in.readNBytes(8);
                    if (len.length < 8) return f + " is truncated (" + e.size() + " bytes)";
                    header = ByteBuffer.wrap(len).order(ByteOrder.LITTLE_ENDIAN).getLong();
                }
                try (InputStream in = out.open(dir + "/" + f)) {
                    for (Safetensors.Entry t : Safetensors.describe(in, f).values()) end = Math.max(end, t.end());
                }
                long expected = 8 + header + end;
                if (e.size() >= 0 && e.size() != expected) {
                    return f + " is " + e.size() + " bytes but its header describes " + expected
                            + " (truncated or damaged)";
                }
            }
            return null;
        } catch (IOException | RuntimeException e) {
            return "unreadable: " + e.getMessage();
        }
    }

    /**
     * The newest checkpoint of this run whose parameters are all finite, read back and checked (the last one written
     * may already hold the values that diverged), or null; the ones passed over are named in the log.
     */
    public String newestFinite() {
        List<Long> steps;
        try {
            steps = runId == null ? completeSteps() : runs().getOrDefault(runId, List.of());
        } catch (IOException e) {
            return null;
        }
        for (int i = steps.size() - 1; i >= 0; i--) {
            String rel = DIR + "/" + name(steps.get(i));
            String where = out.locations().get(0).child(rel);
            String[] bad = {null};
            try (InputStream in = out.open(rel + "/" + MODEL)) {
                Safetensors.stream(in, where + "/" + MODEL, (name, dtype, shape, data) -> {
                    if (bad[0] == null && dtype == DataType.FLOAT && !finite(data)) bad[0] = name;
                    data.transferTo(OutputStream.nullOutputStream());
                });
            } catch (IOException | RuntimeException e) {
                LOG.info("train: " + where + " is unreadable (" + e.getMessage() + "); not a good checkpoint");
                continue;
            }
            if (bad[0] == null) return where;
            LOG.info("train: " + where + " holds NaN or infinite values (in " + bad[0] + "); not a good checkpoint");
        }
        return null;
    }

    private static boolean finite(InputStream data) throws IOException {
        byte[] b = new byte[IO_FLOATS * 4];
        for (int n; (n = data.readNBytes(b, 0, b.length)) > 0; ) {
            java.nio.FloatBuffer f = ByteBuffer.wrap(b, 0, n).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer();
            while (f.hasRemaining()) if (!Float.isFinite(f.get())) return false;
        }
        return true;
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

    /** The location of the newest complete checkpoint (of this run, when it has an id), or null. */
    public String latest() throws IOException {
        List<Long> s = runId == null ? completeSteps() : runs().getOrDefault(runId, List.of());
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
            State state = readState(in, location);
            ModelState model = ModelState.zeros(layout, state.step());
            readInto(in, MODEL, location, model, List.of(0), List.of(""));
            readInto(in, OPTIMIZER, location, model, List.of(1, 2), List.of(".exp_avg", ".exp_avg_sq"));
            return new Loaded(location, state, model);
        } catch (IOException e) {
            throw new BadInputException(location + ": cannot read checkpoint: " + e.getMessage(), e);
        }
    }

    /** Reads and checks a checkpoint's state file: the folder must exist and hold one of a format this version reads. */
    public static State readState(String location, Configuration hadoop) {
        try (Storage in = Storage.forUrl(location, hadoop)) {
            return readState(in, location);
        } catch (IOException e) {
            throw new BadInputException(location + ": cannot read checkpoint: " + e.getMessage(), e);
        }
    }

    private static State readState(Storage in, String location) throws IOException {
        if (!in.exists("")) {
            throw new BadInputException(location + ": no such checkpoint folder (check model.resume_from_checkpoint, or use \"latest\")");
        }
        if (!in.exists(STATE)) {
            throw new BadInputException(location + ": not a complete checkpoint (no " + STATE + "; a write was interrupted,"
                    + " or this is not a checkpoint folder)");
        }
        return parseState(in.readAll(STATE), location + "/" + STATE);
    }

    /** Parses {@value #STATE}; format 1 (no version, no run id) reads as run {@value #UNRECORDED_RUN}; newer formats are refused. */
    static State parseState(byte[] json, String file) {
        JsonNode n;
        try {
            n = JSON.readTree(json);
        } catch (IOException e) {
            throw new BadInputException(file + ": not valid JSON: " + e.getMessage(), e);
        }
        if (n == null || !n.isObject() || !n.path("step").canConvertToLong()) {
            throw new BadInputException(file + ": not a checkpoint state (expected a JSON object with \"step\")");
        }
        int version = n.path("formatVersion").asInt(1);
        if (version > FORMAT_VERSION) {
            throw new BadInputException(file + ": written in checkpoint format " + version + " by a newer avatar-train; this version reads"
                    + " formats up to " + FORMAT_VERSION + ". Use the newer avatar-train to resume or export it.");
        }
        Map<String, Object> info = n.hasNonNull("info") ? JSON.convertValue(n.get("info"), new com.fasterxml.jackson.core.type.TypeReference<
                LinkedHashMap<String, Object>>() {}) : Map.of();
        String run = n.hasNonNull("runId") ? n.get("runId").asText() : UNRECORDED_RUN;
        return new State(n.get("step").asLong(), n.path("round").asLong(), n.path("seed").asLong(), n.path("configHash").asText(""),
                n.path("network").asText(""), info, run, version);
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
