package dev.avatartrain.models.cuda;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.platform.engine.TestExecutionResult;
import org.junit.platform.engine.TestTag;
import org.junit.platform.launcher.TestExecutionListener;
import org.junit.platform.launcher.TestIdentifier;
import org.junit.platform.launcher.TestPlan;

/**
 * Prints how many tests tagged {@code gpu} ran, at the end of a Surefire run (Surefire sets
 * {@code avatartrain.gpu.summary}): {@code GPU tests: 0 run — no NVIDIA GPU found} on a machine without one, so the
 * build log says they were not run rather than skipping them silently. Registered through
 * {@code META-INF/services/org.junit.platform.launcher.TestExecutionListener}.
 */
public final class GpuTestSummary implements TestExecutionListener {
    static final String TAG = "gpu";
    private final AtomicInteger ran = new AtomicInteger();
    private final AtomicInteger failed = new AtomicInteger();

    /** Whether this machine has an NVIDIA GPU driver (what the gpu profile of the pom checks). */
    static boolean gpuPresent() {
        return Files.exists(Path.of("/dev/nvidiactl"));
    }

    @Override
    public void executionFinished(TestIdentifier id, TestExecutionResult result) {
        if (id.isTest() && id.getTags().contains(TestTag.create(TAG))) {
            ran.incrementAndGet();
            if (result.getStatus() != TestExecutionResult.Status.SUCCESSFUL) {
                failed.incrementAndGet();
            }
        }
    }

    @Override
    public void testPlanExecutionFinished(TestPlan plan) {
        if (!Boolean.getBoolean("avatartrain.gpu.summary")) {
            return;
        }
        if (!gpuPresent()) {
            System.out.println("GPU tests: 0 run — no NVIDIA GPU found (/dev/nvidiactl is missing)");
        } else if (ran.get() > 0) {
            System.out.println("GPU tests: " + ran.get() + " run, " + failed.get() + " failed");
        }
    }
}
