package dev.avatartrain.bench;

import ar.com.hjg.pngj.IImageLine;
import ar.com.hjg.pngj.ImageLineInt;
import ar.com.hjg.pngj.PngReader;
import dev.avatartrain.data.FrameImages;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Size;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_COLOR;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imdecode;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_LINEAR;
import static org.bytedeco.opencv.global.opencv_imgproc.resize;

/**
 * PNG decode (+ resize to the training size) per frame, one thread: JDK ImageIO, PNGJ, OpenCV (JavaCPP).
 * Frames: 512×512 photo-like RGB (smooth gradients + sensor noise, compressing like real HDTF crops) → 256.
 */
public final class PngDecodeBench {
    public static void main(String[] args) throws Exception {
        int src = args.length > 0 ? Integer.parseInt(args[0]) : 512;
        int dst = args.length > 1 ? Integer.parseInt(args[1]) : 256;
        int n = args.length > 2 ? Integer.parseInt(args[2]) : 100;
        List<byte[]> pngs = new ArrayList<>();
        Random r = new Random(1);
        long bytes = 0;
        for (int i = 0; i < 20; i++) {
            BufferedImage img = new BufferedImage(src, src, BufferedImage.TYPE_INT_RGB);
            for (int y = 0; y < src; y++)
                for (int x = 0; x < src; x++) {
                    int base = (int) (128 + 60 * Math.sin((x + i * 7) / 40.0) * Math.cos(y / 55.0));
                    int rr = clamp(base + 40 + r.nextInt(9) - 4), gg = clamp(base + r.nextInt(9) - 4), bb = clamp(base - 30 + r.nextInt(9) - 4);
                    img.setRGB(x, y, (rr << 16) | (gg << 8) | bb);
                }
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ImageIO.write(img, "png", out);
            pngs.add(out.toByteArray());
            bytes += out.size();
        }
        System.out.printf("frames: %dx%d RGB PNG, %.0f KB each on average; decode + resize to %d, %d frames per decoder, 1 thread%n",
                src, src, bytes / 20.0 / 1024, dst, n);
        for (int round = 0; round < 2; round++) {
            boolean report = round == 1;
            time("JDK ImageIO + Java2D bilinear (FrameImages)", n, report, i -> FrameImages.toChw(FrameImages.decode(pngs.get(i % 20), "f"), dst).length);
            time("PNGJ + Java2D bilinear", n, report, i -> FrameImages.toChw(pngj(pngs.get(i % 20)), dst).length);
            time("OpenCV imdecode + resize (JavaCPP)", n, report, i -> opencv(pngs.get(i % 20), dst));
        }
    }

    interface Work { int run(int i) throws Exception; }

    private static void time(String name, int n, boolean report, Work w) throws Exception {
        long sink = 0, t0 = System.nanoTime();
        for (int i = 0; i < n; i++) sink += w.run(i);
        double ms = (System.nanoTime() - t0) / 1e6 / n;
        if (report) System.out.printf("%-46s %7.2f ms/frame  (%.0f frames/s)  [%d]%n", name, ms, 1000 / ms, sink % 7);
    }

    private static BufferedImage pngj(byte[] png) {
        PngReader reader = new PngReader(new ByteArrayInputStream(png));
        int w = reader.imgInfo.cols, h = reader.imgInfo.rows, ch = reader.imgInfo.channels;
        int[] px = new int[w * h];
        for (int y = 0; y < h; y++) {
            IImageLine line = reader.readRow();
            int[] s = ((ImageLineInt) line).getScanline();
            for (int x = 0; x < w; x++) px[y * w + x] = (s[x * ch] << 16) | (s[x * ch + 1] << 8) | s[x * ch + 2];
        }
        reader.end();
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        img.setRGB(0, 0, w, h, px, 0, w);
        return img;
    }

    private static int opencv(byte[] png, int dst) {
        try (Mat buf = new Mat(new BytePointer(png)); Mat img = imdecode(buf, IMREAD_COLOR); Mat out = new Mat()) {
            resize(img, out, new Size(dst, dst), 0, 0, INTER_LINEAR);
            // to float CHW in [0,1] like FrameImages.toChw
            byte[] bgr = new byte[dst * dst * 3];
            out.data().get(bgr);
            float[] chw = new float[bgr.length];
            int plane = dst * dst;
            for (int i = 0; i < plane; i++) {
                chw[i] = (bgr[3 * i + 2] & 255) / 255f;
                chw[plane + i] = (bgr[3 * i + 1] & 255) / 255f;
                chw[2 * plane + i] = (bgr[3 * i] & 255) / 255f;
            }
            return chw.length;
        }
    }

    private static int clamp(int v) {
        return Math.max(0, Math.min(255, v));
    }
}
