package dev.avatartrain.generate;

/**
 * PSNR and SSIM of two RGB images given as CHW float arrays in [0, 1], over rows {@code [fromRow, toRow)} (the mouth
 * region is the lower half). SSIM is Wang et al.'s with a 7×7 uniform window, constants (0.01)², (0.03)² for data range 1
 * and sample covariances, averaged over every full window and the three channels (scikit-image's
 * {@code structural_similarity} defaults, {@code channel_axis} set).
 */
public final class ImageMetrics {
    static final int WINDOW = 7;
    private static final double C1 = 0.01 * 0.01, C2 = 0.03 * 0.03;

    private ImageMetrics() {}

    /** 10·log10(1 / MSE), at most 100 dB (identical images). */
    public static double psnr(float[] a, float[] b, int size, int fromRow, int toRow) {
        double sum = 0;
        long n = 0;
        for (int c = 0; c < 3; c++) {
            for (int y = fromRow; y < toRow; y++) {
                int row = (c * size + y) * size;
                for (int x = 0; x < size; x++) {
                    double d = a[row + x] - b[row + x];
                    sum += d * d;
                    n++;
                }
            }
        }
        double mse = sum / n;
        return mse <= 1e-10 ? 100.0 : Math.min(100.0, 10 * Math.log10(1.0 / mse));
    }

    public static double ssim(float[] a, float[] b, int size, int fromRow, int toRow) {
        if (toRow - fromRow < WINDOW || size < WINDOW) {
            throw new IllegalArgumentException("SSIM needs at least " + WINDOW + "×" + WINDOW + " pixels; the region is "
                    + (toRow - fromRow) + "×" + size);
        }
        int k = WINDOW * WINDOW;
        double cov = (double) k / (k - 1);
        double total = 0;
        long windows = 0;
        for (int c = 0; c < 3; c++) {
            for (int y = fromRow; y + WINDOW <= toRow; y++) {
                for (int x = 0; x + WINDOW <= size; x++) {
                    double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
                    for (int dy = 0; dy < WINDOW; dy++) {
                        int row = (c * size + y + dy) * size + x;
                        for (int dx = 0; dx < WINDOW; dx++) {
                            double va = a[row + dx], vb = b[row + dx];
                            sa += va;
                            sb += vb;
                            saa += va * va;
                            sbb += vb * vb;
                            sab += va * vb;
                        }
                    }
                    double ma = sa / k, mb = sb / k;
                    double va = cov * (saa / k - ma * ma), vb = cov * (sbb / k - mb * mb), vab = cov * (sab / k - ma * mb);
                    total += ((2 * ma * mb + C1) * (2 * vab + C2)) / ((ma * ma + mb * mb + C1) * (va + vb + C2));
                    windows++;
                }
            }
        }
        return total / windows;
    }
}
