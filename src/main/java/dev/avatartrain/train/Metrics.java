package dev.avatartrain.train;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

import org.jfree.chart.ChartFactory;
import org.jfree.chart.ChartUtils;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.avatartrain.storage.Storage;
import dev.avatartrain.storage.StorageUrl;

/**
 * Training metrics under {@code output_dir}: {@code metrics.jsonl} and {@code metrics.csv} get one line per round or
 * validation, appended (on a local disk each line is appended as it comes; on an object store, which cannot append,
 * the files are uploaded whole at validation steps, checkpoints and the end only); {@code loss.png}, the training and
 * validation loss over steps, is redrawn at validation steps and at the end. A fresh run starts the files anew; a
 * resumed run appends to them (readers keep the last row of a step), and its plot and dashboard show the rows up to
 * its checkpoint's step followed by its own.
 *
 * <p>The CSV's columns are fixed by its header: the training columns plus those of the first row (the validation at
 * step 0); a value under a column the header lacks is in the JSONL only.
 */
public final class Metrics implements TrainingListener {
    public static final String JSONL = "metrics.jsonl";
    public static final String CSV = "metrics.csv";
    public static final String PLOT = "loss.png";
    static final List<String> TRAIN_COLUMNS = List.of("step", "round", "train_loss", "lr", "grad_norm", "samples_per_s", "round_s",
            "compute_s");
    private static final Logger LOG = LoggerFactory.getLogger(Metrics.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Storage out;
    private final StorageUrl at;
    private final List<Map<String, Object>> rows = new ArrayList<>();
    private List<String> columns;
    private final LinkedHashSet<String> dropped = new LinkedHashSet<>();
    /** Off the local disk: the files' whole content, uploaded at {@link #flush()}. */
    private final StringBuilder remoteJsonl = new StringBuilder(), remoteCsv = new StringBuilder();
    private boolean dirty;

    /**
     * Starts the metrics of a run. {@code resumedAt} &gt; 0: a run resumed from that step appends to the files there
     * (rows after that step stay in the files but not in {@link #rows()}); 0: a fresh run replaces them.
     */
    public Metrics(Storage outputDir, long resumedAt) throws IOException {
        this.out = outputDir;
        this.at = outputDir.locations().get(0);
        String jsonl = resumedAt > 0 && out.exists(JSONL) ? new String(out.readAll(JSONL), StandardCharsets.UTF_8) : "";
        String csv = resumedAt > 0 && out.exists(CSV) ? new String(out.readAll(CSV), StandardCharsets.UTF_8) : "";
        for (String line : jsonl.split("\n")) {
            if (line.isBlank()) continue;
            try {
                Map<String, Object> row = JSON.readValue(line, new TypeReference<LinkedHashMap<String, Object>>() {});
                if (row.get("step") instanceof Number s && s.longValue() <= resumedAt) rows.add(row);
            } catch (IOException e) {
                LOG.warn("{}: ignoring an unreadable line (a run that stopped while writing it?): {}", at.child(JSONL), line);
            }
        }
        if (!csv.isEmpty()) columns = List.of(csv.lines().findFirst().orElse("").split(","));
        if (at.isLocal()) {
            if (resumedAt == 0) {
                Files.deleteIfExists(at.localChild(JSONL));
                Files.deleteIfExists(at.localChild(CSV));
            } else {
                endLine(at.localChild(JSONL));
                endLine(at.localChild(CSV));
            }
        } else {
            remoteJsonl.append(jsonl.isEmpty() || jsonl.endsWith("\n") ? jsonl : jsonl + "\n");
            remoteCsv.append(csv.isEmpty() || csv.endsWith("\n") ? csv : csv + "\n");
        }
    }

    /** The rows of this run's trajectory so far (for the plot and the dashboard). */
    public List<Map<String, Object>> rows() {
        return rows;
    }

    /** Appends a row (must contain {@code step}) to both files. */
    public void add(Map<String, Object> row) throws IOException {
        rows.add(new LinkedHashMap<>(row));
        String csvLines = "";
        if (columns == null) {
            LinkedHashSet<String> cols = new LinkedHashSet<>(TRAIN_COLUMNS);
            cols.addAll(row.keySet());
            columns = List.copyOf(cols);
            csvLines = String.join(",", columns) + "\n";
        }
        List<String> cells = new ArrayList<>();
        for (String col : columns) {
            Object v = row.get(col);
            cells.add(v == null ? "" : v.toString());
        }
        for (String k : row.keySet()) {
            if (!columns.contains(k) && dropped.add(k)) LOG.info("{}: column {} is not in the header; its values are in {} only", at.child(CSV), k, JSONL);
        }
        csvLines += String.join(",", cells) + "\n";
        String jsonLine = JSON.writeValueAsString(row) + "\n";
        if (at.isLocal()) {
            append(at.localChild(JSONL), jsonLine);
            append(at.localChild(CSV), csvLines);
        } else {
            remoteJsonl.append(jsonLine);
            remoteCsv.append(csvLines);
            dirty = true;
        }
    }

    /** Redraws {@code loss.png} and, off the local disk, uploads the metrics files. */
    public void flush() throws IOException {
        if (dirty) {
            byte[] j = remoteJsonl.toString().getBytes(StandardCharsets.UTF_8), c = remoteCsv.toString().getBytes(StandardCharsets.UTF_8);
            out.write(JSONL, o -> o.write(j));
            out.write(CSV, o -> o.write(c));
            dirty = false;
        }
        byte[] png = plot();
        out.write(PLOT, o -> o.write(png));
    }

    @Override
    public void round(Round r) throws IOException {
        add(r.row());
    }

    @Override
    public void validated(long step, Map<String, Object> values) throws IOException {
        add(values);
        flush();
    }

    @Override
    public void checkpointed(long step, String location) throws IOException {
        if (dirty) flush();
    }

    @Override
    public void finished(long step) throws IOException {
        flush();
    }

    @Override
    public void close() {
        if (!dirty) return;
        try {
            flush(); // a failed run keeps the rows it made
        } catch (IOException e) {
            LOG.warn("could not write the last metrics to {}: {}", at.child(JSONL), e.toString());
        }
    }

    private static void append(Path file, String text) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        Files.writeString(file, text, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    /** A file a stopped run left without its final newline gets one, so appended rows start on a line of their own. */
    private static void endLine(Path file) throws IOException {
        if (!Files.exists(file) || Files.size(file) == 0) return;
        try (var ch = java.nio.channels.FileChannel.open(file, StandardOpenOption.READ)) {
            java.nio.ByteBuffer last = java.nio.ByteBuffer.allocate(1);
            ch.read(last, ch.size() - 1);
            if (last.get(0) == '\n') return;
        }
        append(file, "\n");
    }

    /** The loss curves (every numeric column whose name ends in "loss") as a PNG. */
    private byte[] plot() throws IOException {
        Map<String, XYSeries> series = new LinkedHashMap<>();
        for (Map<String, Object> r : rows) {
            for (Map.Entry<String, Object> e : r.entrySet()) {
                if (!e.getKey().endsWith("loss") || !(e.getValue() instanceof Number v)) continue;
                series.computeIfAbsent(e.getKey(), k -> new XYSeries(k, true, true))
                        .addOrUpdate(((Number) r.get("step")).doubleValue(), v.doubleValue());
            }
        }
        XYSeriesCollection data = new XYSeriesCollection();
        series.values().forEach(data::addSeries);
        JFreeChart chart = ChartFactory.createXYLineChart("Loss", "optimizer step", "loss", data, PlotOrientation.VERTICAL,
                true, false, false);
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ChartUtils.writeChartAsPNG(png, chart, 800, 480);
        return png.toByteArray();
    }
}
