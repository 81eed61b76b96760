package dev.avatartrain.data;

import dev.avatartrain.errors.BadInputException;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import javax.imageio.ImageIO;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.opencv.global.opencv_core;
import org.bytedeco.opencv.global.opencv_imgcodecs;
import org.bytedeco.opencv.global.opencv_imgproc;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Size;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.List;

/**
 * Frames as the networks see them: RGB, channels first, values in [0, 1] (taesd.py's convention), square
 * {@code size × size}. The UNet's input frame has its lower half (the mouth region) set to 0.
 */
public final class FrameImages {
    private FrameImages() {}

    /** Decodes a PNG (or any format ImageIO reads); a corrupt file is a {@link BadInputException} naming it. */
    public static BufferedImage decode(byte[] bytes, String name) {
        try {
            BufferedImage img = ImageIO.read(new ByteArrayInputStream(bytes));
            if (img == null) throw new BadInputException(name + ": not a readable image (" + bytes.length + " bytes).");
            return img;
        } catch (IOException | RuntimeException e) {
            if (e instanceof BadInputException b) throw b;
            throw new BadInputException(name + ": corrupt image: " + e.getMessage(), e);
        }
    }

    /**
     * Decodes a PNG/JPEG with OpenCV (1.7× faster than ImageIO here, docs/benchmarks.md) and resizes it to
     * {@code size × size} (area averaging when shrinking, bilinear when enlarging): RGB in [0, 1], channels first.
     * A corrupt or empty file is a {@link BadInputException} naming it.
     */
    public static float[] decodeChw(byte[] bytes, String name, int size) {
        if (bytes.length == 0) throw new BadInputException(name + ": empty file.");
        checkDimensions(bytes, name, size);
        checkPngStructure(bytes, name);
        try (Mat buf = new Mat(1, bytes.length, opencv_core.CV_8UC1, new BytePointer(bytes));
             Mat img = opencv_imgcodecs.imdecode(buf, opencv_imgcodecs.IMREAD_COLOR); Mat out = new Mat()) {
            if (img.empty()) throw new BadInputException(name + ": not a readable image (" + bytes.length + " bytes).");
            boolean shrink = img.cols() > size || img.rows() > size;
            opencv_imgproc.resize(img, out, new Size(size, size), 0, 0, shrink ? opencv_imgproc.INTER_AREA : opencv_imgproc.INTER_LINEAR);
            byte[] bgr = new byte[size * size * 3];
            out.data().get(bgr);
            int plane = size * size;
            float[] chw = new float[3 * plane];
            for (int i = 0; i < plane; i++) {
                chw[i] = (bgr[3 * i + 2] & 255) / 255f;
                chw[plane + i] = (bgr[3 * i + 1] & 255) / 255f;
                chw[2 * plane + i] = (bgr[3 * i] & 255) / 255f;
            }
            return chw;
        }
    }

    /**
     * How much larger than {@code IMAGE_SIZE} a frame may be on each side. A frame is decoded in full before it is
     * resized, so its declared size is what it costs: a 30000×30000 PNG of a few MB is 2.7 GB once decoded.
     */
    public static final int MAX_SIDE_FACTOR = 8;

    /**
     * Reads the width and height a PNG (IHDR) or JPEG (SOF) header declares and refuses, before anything is decoded,
     * a frame larger than {@code size × }{@value #MAX_SIDE_FACTOR} on a side (a decompression bomb or not a frame of
     * this tree) and a file that is neither a PNG nor a JPEG (OpenCV would try every other decoder it has on it).
     */
    static void checkDimensions(byte[] b, String name, int size) {
        long[] wh = isPng(b) ? pngSize(b, name) : isJpeg(b) ? jpegSize(b, name) : null;
        if (wh == null) {
            StringBuilder start = new StringBuilder();
            for (int i = 0; i < Math.min(8, b.length); i++) start.append(String.format("%02x", b[i] & 0xff));
            throw new BadInputException(name + ": not a PNG or JPEG image (starts with bytes " + start + ").");
        }
        long max = (long) size * MAX_SIDE_FACTOR;
        if (wh[0] <= 0 || wh[1] <= 0 || wh[0] > max || wh[1] > max) {
            throw new BadInputException(name + ": declares " + wh[0] + "×" + wh[1] + " pixels; frames may be at most "
                    + max + " on a side (IMAGE_SIZE " + size + " × " + MAX_SIDE_FACTOR + "), so it was not decoded.");
        }
    }

    private static boolean isPng(byte[] b) {
        return b.length >= 8 && java.util.Arrays.equals(b, 0, 8, PNG_SIGNATURE, 0, 8);
    }

    private static boolean isJpeg(byte[] b) {
        return b.length >= 3 && (b[0] & 0xff) == 0xff && (b[1] & 0xff) == 0xd8 && (b[2] & 0xff) == 0xff;
    }

    private static long[] pngSize(byte[] b, String name) {
        if (b.length < 24 || b[12] != 'I' || b[13] != 'H' || b[14] != 'D' || b[15] != 'R')
            throw new BadInputException(name + ": corrupt PNG: no IHDR header chunk first.");
        java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(b);
        return new long[]{buf.getInt(16) & 0xffffffffL, buf.getInt(20) & 0xffffffffL};
    }

    /** The first start-of-frame segment's size, walking the JPEG's marker segments. */
    private static long[] jpegSize(byte[] b, String name) {
        int pos = 2;
        while (pos + 4 <= b.length) {
            if ((b[pos] & 0xff) != 0xff) break;
            int marker = b[pos + 1] & 0xff;
            if (marker == 0xff) { // fill byte
                pos++;
                continue;
            }
            if (marker == 0xd8 || marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { // no length
                pos += 2;
                continue;
            }
            int len = ((b[pos + 2] & 0xff) << 8) | (b[pos + 3] & 0xff);
            boolean sof = marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
            if (sof && pos + 9 <= b.length) {
                long h = ((b[pos + 5] & 0xff) << 8) | (b[pos + 6] & 0xff);
                long w = ((b[pos + 7] & 0xff) << 8) | (b[pos + 8] & 0xff);
                return new long[]{w, h};
            }
            if (marker == 0xda || marker == 0xd9 || len < 2) break; // image data or end before any frame header
            pos += 2 + len;
        }
        throw new BadInputException(name + ": corrupt JPEG: no frame header (SOF) before its image data.");
    }

    private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    /**
     * For a file that starts like a PNG: every chunk fits in the file, its CRC matches and the file ends with IEND.
     * A truncated or damaged PNG is refused here, with its name, instead of inside OpenCV's libpng, which prints raw
     * {@code libpng error:} lines to the process's stderr before the decode fails.
     */
    static void checkPngStructure(byte[] b, String name) {
        if (b.length < 8 || !java.util.Arrays.equals(b, 0, 8, PNG_SIGNATURE, 0, 8)) return; // not a PNG: OpenCV tries other formats quietly
        java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(b);
        int pos = 8;
        while (true) {
            if (pos + 12 > b.length) throw new BadInputException(name + ": corrupt PNG: truncated at byte " + pos + " of " + b.length + " (no IEND chunk).");
            long len = buf.getInt(pos) & 0xffffffffL;
            if (len > b.length - pos - 12L) {
                throw new BadInputException(name + ": corrupt PNG: a chunk at byte " + pos + " declares " + len + " bytes but the file ends first"
                        + " (truncated).");
            }
            java.util.zip.CRC32 crc = new java.util.zip.CRC32();
            crc.update(b, pos + 4, 4 + (int) len);
            if ((int) crc.getValue() != buf.getInt(pos + 8 + (int) len)) {
                throw new BadInputException(name + ": corrupt PNG: the " + new String(b, pos + 4, 4, java.nio.charset.StandardCharsets.ISO_8859_1)
                        + " chunk at byte " + pos + " fails its CRC check (damaged file).");
            }
            boolean end = b[pos + 4] == 'I' && b[pos + 5] == 'E' && b[pos + 6] == 'N' && b[pos + 7] == 'D';
            pos += 12 + (int) len;
            if (end) return;
        }
    }

    /** Resizes (bilinear) to {@code size × size} and returns RGB in [0, 1], channels first: [3 · size · size]. */
    public static float[] toChw(BufferedImage img, int size) {
        BufferedImage rgb = img;
        if (img.getWidth() != size || img.getHeight() != size || img.getType() != BufferedImage.TYPE_INT_RGB) {
            rgb = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
            Graphics2D g = rgb.createGraphics();
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
            g.setRenderingHint(RenderingHints.KEY_RENDERING, RenderingHints.VALUE_RENDER_QUALITY);
            g.drawImage(img, 0, 0, size, size, null);
            g.dispose();
        }
        int[] px = rgb.getRGB(0, 0, size, size, null, 0, size);
        int plane = size * size;
        float[] chw = new float[3 * plane];
        for (int i = 0; i < plane; i++) {
            int p = px[i];
            chw[i] = ((p >> 16) & 255) / 255f;
            chw[plane + i] = ((p >> 8) & 255) / 255f;
            chw[2 * plane + i] = (p & 255) / 255f;
        }
        return chw;
    }

    /** A copy with rows [size/2, size) of every channel set to 0: the UNet must fill in the mouth. */
    public static float[] maskLowerHalf(float[] chw, int size) {
        float[] out = chw.clone();
        int plane = size * size;
        for (int c = 0; c < 3; c++) java.util.Arrays.fill(out, c * plane + (size / 2) * size, (c + 1) * plane, 0f);
        return out;
    }

    /** Stacks frames of {@link #toChw} into [N, 3, size, size]. */
    public static INDArray stack(List<float[]> frames, int size) {
        float[] all = new float[frames.size() * 3 * size * size];
        int plane = 3 * size * size;
        for (int i = 0; i < frames.size(); i++) System.arraycopy(frames.get(i), 0, all, i * plane, plane);
        return Nd4j.create(all, new long[]{frames.size(), 3, size, size}, 'c');
    }

    /** An image of a [3, H, W] tensor in [0, 1] (values outside are clamped), for validation grids. */
    public static BufferedImage toImage(INDArray chw) {
        INDArray x = chw.castTo(DataType.FLOAT).dup('c');
        int h = (int) x.size(1), w = (int) x.size(2), plane = h * w;
        float[] v = x.data().asFloat();
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        int[] px = new int[plane];
        for (int i = 0; i < plane; i++) {
            px[i] = (byte255(v[i]) << 16) | (byte255(v[plane + i]) << 8) | byte255(v[2 * plane + i]);
        }
        img.setRGB(0, 0, w, h, px, 0, w);
        return img;
    }

    private static int byte255(float v) {
        return Math.round(Math.max(0f, Math.min(1f, v)) * 255f);
    }
}
