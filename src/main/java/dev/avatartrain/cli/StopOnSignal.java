package dev.avatartrain.cli;

import java.io.OutputStream;
import java.io.PrintStream;
import java.util.List;

/**
 * Ctrl-C (SIGINT) or SIGTERM during {@code train} or {@code train-adapter}: one line saying how to resume, exit status
 * 130 or 143, and none of the stack traces Spark's shutdown provokes in the job still running. Checkpoints are
 * complete or absent (each file is written to a temporary name and renamed; a temporary file left by the interrupted
 * write is removed at the next start), so stopping at any moment loses at most the steps since the last checkpoint.
 *
 * <p>Uses {@code sun.misc.Signal} (module jdk.unsupported, as Spark's own SignalUtils does): Java has no supported
 * API that runs code on a signal before the shutdown hooks start.
 */
final class StopOnSignal {
    /** Set once a signal arrived: {@link Main} then prints nothing more for the failure the shutdown causes. */
    static volatile boolean stopping;

    private StopOnSignal() {}

    /** Installs the handlers; {@code resume} is the command line that continues the run. */
    static void install(String resume) {
        for (String name : List.of("INT", "TERM")) {
            int status = name.equals("INT") ? 130 : 143;
            try {
                sun.misc.Signal.handle(new sun.misc.Signal(name), s -> stop(name, status, resume));
            } catch (IllegalArgumentException | UnsupportedOperationException e) {
                // the JVM runs with -Xrs or the signal is in use: the default behaviour stays
            }
        }
    }

    private static void stop(String signal, int status, String resume) {
        if (stopping) return;
        stopping = true;
        Logging.off();
        PrintStream err = System.err;
        err.println("stopped by SIG" + signal + "; the checkpoints written so far are complete. Resume with: " + resume);
        err.flush();
        System.setErr(new PrintStream(OutputStream.nullOutputStream())); // what Spark's shutdown prints from here on
        System.exit(status);
    }
}
