package dev.avatartrain.cli;

import dev.avatartrain.errors.BadInputException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;
import java.util.List;

/** Entry point of {@code bin/avatar-train} and of the cluster jar ({@code spark-submit ... avatar-train-cluster.jar <command>}). */
@Command(name = "avatar-train", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Distributed training of talking-head avatar models (lip-sync UNet, audio adapter) on Spark + DL4J.",
        subcommands = {SynthCommand.class, MakeMetadataCommand.class, EncodeCommand.class, TrainCommand.class,
                TrainAdapterCommand.class, ExportCommand.class, GenerateCommand.class, ForwardCommand.class, DemoCommand.class, EnvCommand.class,
                CommandLine.HelpCommand.class},
        footer = "%nRun 'avatar-train <command> --help' for a command's options.")
public final class Main implements Runnable {
    public static final int EXIT_OK = 0;
    public static final int EXIT_FAILURE = 1;
    public static final int EXIT_BAD_INPUT = 2;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = {"-q", "--quiet"}, scope = CommandLine.ScopeType.INHERIT,
            description = "Only warnings and errors (no configuration listing, no progress line).")
    void quiet(boolean on) {
        if (on) Logging.quiet();
    }

    @Option(names = {"-v", "--verbose"}, scope = CommandLine.ScopeType.INHERIT,
            description = "Also debug messages, and Spark's INFO lines on stderr.")
    void verbose(boolean on) {
        if (on) Logging.verbose();
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** The arguments of the command being run (for the resume line printed when a signal stops training). */
    static List<String> invocation = List.of();

    /** The same command with {@code setting} added: how a stopped run is continued. */
    static String resumeCommand(String setting) {
        StringBuilder b = new StringBuilder("avatar-train");
        for (String a : invocation) b.append(' ').append(a.matches("[\\w@%+=:,./-]+") ? a : "'" + a.replace("'", "'\\''") + "'");
        return b.append(" --set ").append(setting).toString();
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs a command line and returns its exit status (tests call this instead of {@link #main}). */
    public static int run(String... args) {
        System.setProperty("java.awt.headless", "true"); // plots and grids on machines without a display
        dev.avatartrain.models.nn.QuietSameDiff.install();
        dev.avatartrain.gpu.Backends.loadEarlyWhereNoGpu(); // the CUDA jar on a machine without a GPU: no stack trace
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            if (StopOnSignal.stopping) return EXIT_FAILURE; // a signal stopped the run; its one line was printed
            PrintWriter err = commandLine.getErr();
            BadInputException bad = badInput(ex);
            if (bad != null) {
                err.println("error: " + bad.getMessage());
                err.flush();
                return EXIT_BAD_INPUT;
            }
            if (ex instanceof dev.avatartrain.train.spark.SparkTrainer.TrainingDivergedException d) { // its message says it all
                err.println("error: " + d.getMessage());
                err.flush();
                return EXIT_FAILURE;
            }
            err.println("error: " + commandLine.getCommandName() + " failed: " + ex);
            ex.printStackTrace(err);
            err.flush();
            return EXIT_FAILURE;
        });
        invocation = List.of(args);
        try {
            return cl.execute(args);
        } finally {
            Logging.restore();
        }
    }

    /** Bad input may arrive wrapped (Spark task failures wrap the executor's exception). */
    private static BadInputException badInput(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) if (c instanceof BadInputException b) return b;
        return null;
    }

    /** {@code --version}: the one line {@code avatar-train env} sums up (project, git revision, Java, Spark, ND4J backend). */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            return new String[]{dev.avatartrain.env.EnvReport.summary()};
        }
    }
}
