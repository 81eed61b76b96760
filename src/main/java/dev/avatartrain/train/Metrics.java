package dev.avatartrain.train;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
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

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.avatartrain.storage.Storage;

/**
 * Training metrics under {@code output_dir}: {@code metrics.jsonl} and {@code metrics.csv} (one row per round or
 * validation, columns by first appearance) and {@code loss.png}, the training and validation loss over steps, all
 * rewritten atomically after every row. A resumed run keeps the rows up to its checkpoint's step.
 */
public final class Metrics {
    public static final String JSONL = "metrics.jsonl";
    public static final String CSV = "metrics.csv";
    public static final String PLOT = "loss.png";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Storage out;
    private final List<Map<String, Object>> rows = new ArrayList<>();

    /** Starts a metrics log; rows already there with {@code step <= keepUpToStep} are kept (resume), others dropped. */
    public Metrics(Storage outputDir, long keepUpToStep) throws IOException {
        this.out = outputDir;
        if (keepUpToStep > 0 && out.exists(JSONL)) {
            for (String line : new String(out.readAll(JSONL), java.nio.charset.StandardCharsets.UTF_8).split("\n")) {
                if (line.isBlank()) continue;
                Map<String, Object> row = JSON.readValue(line, new TypeReference<LinkedHashMap<String, Object>>() {});
                if (((Number) row.getOrDefault("step", 0)).longValue() <= keepUpToStep) rows.add(row);
            }
        }
    }

    public List<Map<String, Object>> rows() {
        return rows;
    }

    /** Appends a row (must contain {@code step}) and rewrites the files. */
    public void add(Map<String, Object> row) throws IOException {
        rows.add(new LinkedHashMap<>(row));
        StringBuilder jsonl = new StringBuilder();
        for (Map<String, Object> r : rows) jsonl.append(JSON.writeValueAsString(r)).append('\n');
        byte[] j = jsonl.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        out.write(JSONL, o -> o.write(j));
        byte[] c = csv().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        out.write(CSV, o -> o.write(c));
        byte[] png = plot();
        out.write(PLOT, o -> o.write(png));
    }

    private String csv() {
        LinkedHashSet<String> cols = new LinkedHashSet<>();
        for (Map<String, Object> r : rows) cols.addAll(r.keySet());
        StringBuilder sb = new StringBuilder(String.join(",", cols)).append('\n');
        for (Map<String, Object> r : rows) {
            List<String> cells = new ArrayList<>();
            for (String col : cols) {
                Object v = r.get(col);
                cells.add(v == null ? "" : v.toString());
            }
            sb.append(String.join(",", cells)).append('\n');
        }
        return sb.toString();
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
