package dev.avatartrain.gpu;

/**
 * One NVIDIA GPU as {@code nvidia-smi} reports it.
 *
 * @param index          the driver's index, the address Spark's discovery script reports and assigns
 * @param name           the product name ("NVIDIA A10G")
 * @param major          compute capability, major version (8 for an A10G)
 * @param minor          compute capability, minor version (6 for an A10G)
 * @param memoryMiB      total memory in MiB
 * @param driverVersion  the NVIDIA driver's version ("535.183.01")
 */
public record GpuInfo(int index, String name, int major, int minor, long memoryMiB, String driverVersion) {
    /** "8.6". */
    public String computeCapability() {
        return major + "." + minor;
    }

    /** "sm_86": the architecture name CUDA's compilers use. */
    public String sm() {
        return "sm_" + major + minor;
    }

    /** "GPU 0 (NVIDIA A10G, compute capability 8.6)": how messages name it. */
    public String describe() {
        return "GPU " + index + " (" + name + ", compute capability " + computeCapability() + ")";
    }
}
