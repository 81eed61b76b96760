package dev.avatartrain.train.spark;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;

import dev.avatartrain.train.TrainingListener;
import dev.avatartrain.train.TrainingSegment;

/**
 * Rank 0's small messages to the driver while a segment runs: one JSON line per optimizer step and per validation,
 * over a TCP connection to a socket the driver opened for the run (Spark has no channel from a running task to the
 * driver: accumulators and task results arrive when the task ends). The first line a connection sends is the run's
 * random token; a connection without it is dropped. A retried stage connects again; the driver keeps the first
 * report of each step.
 */
final class MetricsChannel implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** A message: {@code type} "step" (a {@link TrainingListener.Round}'s fields) or "validated" ({@code step}, {@code values}). */
    record Message(String type, Map<String, Object> body) {}

    private final ServerSocket server;
    private final String token;
    private final BlockingQueue<Message> inbox = new LinkedBlockingQueue<>();
    private final Thread acceptor;
    private volatile boolean closed;

    private MetricsChannel(ServerSocket server) {
        this.server = server;
        byte[] t = new byte[16];
        new SecureRandom().nextBytes(t);
        this.token = HexFormat.of().formatHex(t);
        this.acceptor = new Thread(this::accept, "avatar-train-metrics");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** Listens on {@code host} (the driver's address), any free port. */
    static MetricsChannel open(String host) throws IOException {
        ServerSocket s = new ServerSocket();
        s.bind(new InetSocketAddress(InetAddress.getByName(host), 0));
        return new MetricsChannel(s);
    }

    /** Where workers connect: {@code host:port}. */
    String address() {
        return server.getInetAddress().getHostAddress() + ":" + server.getLocalPort();
    }

    String token() {
        return token;
    }

    /** The next message, or null after {@code millis} without one. */
    Message poll(long millis) throws InterruptedException {
        return inbox.poll(millis, TimeUnit.MILLISECONDS);
    }

    private void accept() {
        while (!closed) {
            try {
                Socket s = server.accept();
                Thread reader = new Thread(() -> read(s), "avatar-train-metrics-reader");
                reader.setDaemon(true);
                reader.start();
            } catch (IOException e) {
                if (!closed) org.slf4j.LoggerFactory.getLogger(MetricsChannel.class).warn("metrics channel: {}", e.toString());
            }
        }
    }

    private void read(Socket s) {
        try (s; BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8))) {
            if (!token.equals(in.readLine())) return;
            for (String line; (line = in.readLine()) != null; ) {
                Map<String, Object> m = JSON.readValue(line, new TypeReference<LinkedHashMap<String, Object>>() {});
                inbox.add(new Message((String) m.remove("type"), m));
            }
        } catch (IOException e) {
            // the worker's task ended or failed: its stage's outcome says what happened
        }
    }

    @Override
    public void close() {
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
    }

    /** Rank 0's end: reports steps and validations as JSON lines. */
    static final class Reporter implements TrainingSegment.Reporter, AutoCloseable {
        private final Socket socket;
        private final OutputStream out;

        Reporter(String address, String token) throws IOException {
            int colon = address.lastIndexOf(':');
            socket = new Socket(address.substring(0, colon), Integer.parseInt(address.substring(colon + 1)));
            socket.setTcpNoDelay(true);
            out = socket.getOutputStream();
            out.write((token + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        }

        @Override
        public void step(TrainingListener.Round r) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("type", "step");
            m.put("step", r.step());
            m.put("previousStep", r.previousStep());
            m.put("round", r.round());
            m.put("last", r.last());
            m.put("loss", r.loss());
            m.put("lr", r.lr());
            m.put("gradNorm", r.gradNorm());
            m.put("samples", r.samples());
            m.put("seconds", r.seconds());
            m.put("computeSeconds", r.computeSeconds());
            send(m);
        }

        @Override
        public void validated(long step, Map<String, Object> values) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("type", "validated");
            m.put("step", step);
            m.put("values", values);
            send(m);
        }

        private void send(Map<String, Object> m) {
            try {
                out.write((JSON.writeValueAsString(m) + "\n").getBytes(StandardCharsets.UTF_8));
                out.flush();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException("cannot report to the driver: " + e.getMessage(), e);
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    /** A step message back as the listeners' event. */
    static TrainingListener.Round round(Map<String, Object> b) {
        return new TrainingListener.Round(num(b, "step").longValue(), num(b, "previousStep").longValue(), num(b, "round").longValue(),
                (Boolean) b.get("last"), num(b, "loss").doubleValue(), num(b, "lr").doubleValue(), num(b, "gradNorm").doubleValue(),
                num(b, "samples").longValue(), num(b, "seconds").doubleValue(), num(b, "computeSeconds").doubleValue());
    }

    private static Number num(Map<String, Object> b, String k) {
        Object v = b.get(k);
        if (v instanceof Number n) return n;
        if (v instanceof String s) return Double.valueOf(s); // NaN and Infinity travel as strings
        throw new IllegalStateException("metrics message without " + k + ": " + b);
    }
}
