package dev.avatartrain.data;

/** The frames whose audio features condition frame t: t−left … t+right, clamped at the clip's ends. */
public final class AudioWindow {
    private AudioWindow() {}

    public static int[] frames(int t, int clipLength, int left, int right) {
        if (t < 0 || t >= clipLength)
            throw new IllegalArgumentException("frame " + t + " outside a clip of " + clipLength + " frames");
        int[] idx = new int[left + 1 + right];
        for (int k = 0; k < idx.length; k++) idx[k] = Math.max(0, Math.min(clipLength - 1, t - left + k));
        return idx;
    }
}
