package dev.avatartrain.cli;

import java.io.PrintWriter;
import java.util.concurrent.Callable;

import dev.avatartrain.env.EnvReport;
import dev.avatartrain.models.cuda.CudaEnvironment;
import dev.avatartrain.models.cuda.KernelCheck;
import dev.avatartrain.models.cuda.KernelCompileException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "env", mixinStandardHelpOptions = true,
        description = {"Print the versions (this build with its git revision, Java, Spark, Hadoop, ND4J and its backend), the CPU's"
                + " vector features and the GPUs seen, each with whether this build runs on it: paste it into bug reports."})
final class EnvCommand implements Callable<Integer> {
    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--check-kernels", paramLabel = "sm_XX,...",
            description = "Also compile every CUDA 13 backend kernel with NVRTC for these architectures (e.g."
                    + " sm_90,sm_100; no GPU needed) and print how many compiled for each.")
    String checkKernels;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        out.print(EnvReport.text(EnvReport.fields()));
        out.println("CUDA 13 backend:");
        CudaEnvironment.describe().forEach(line -> out.println("  " + line));
        if (checkKernels != null) {
            try {
                KernelCheck.lines(KernelCheck.compileAll(KernelCheck.parseArchs(checkKernels))).forEach(out::println);
            } catch (KernelCompileException e) {
                out.flush();
                spec.commandLine().getErr().println("env: a CUDA kernel failed to compile: " + e.getMessage());
                return Main.EXIT_FAILURE;
            }
        }
        out.flush();
        return Main.EXIT_OK;
    }
}
