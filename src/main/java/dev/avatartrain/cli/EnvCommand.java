package dev.avatartrain.cli;

import java.util.concurrent.Callable;

import dev.avatartrain.env.EnvReport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Spec;

@Command(name = "env", mixinStandardHelpOptions = true,
        description = {"Print the versions (this build with its git revision, Java, Spark, Hadoop, ND4J and its backend), the CPU's"
                + " vector features and the GPUs seen, each with whether this build runs on it: paste it into bug reports."})
final class EnvCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    // Kernel checks of the CUDA backend (`env --check-kernels sm_90,...`) plug in here: an @Option, and its lines
    // printed after the report below.

    @Override
    public Integer call() {
        spec.commandLine().getOut().print(EnvReport.text(EnvReport.fields()));
        spec.commandLine().getOut().flush();
        return Main.EXIT_OK;
    }
}
