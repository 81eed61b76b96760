package dev.avatartrain.train.unet;

import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import javax.imageio.ImageIO;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

import dev.avatartrain.data.AudioPositionalEncoding;
import dev.avatartrain.data.ClipLatents;
import dev.avatartrain.data.FrameImages;
import dev.avatartrain.data.UNetBatch;
import dev.avatartrain.data.UNetSampler;
import dev.avatartrain.models.nn.Network;
import dev.avatartrain.models.taesd.Taesd;
import dev.avatartrain.models.unet.UNet;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.train.Validator;

/**
 * Validation on held-out clips (split by clip, never by frame), on the driver: a fixed set of samples (targets
 * spread over each clip, seeded references); the latent loss ({@code val_loss}, same kind as training's), the
 * L1 latent error, the PSNR of the decoded mouth region (lower half) of prediction against decoded target, and a
 * PNG grid {@code validation/step-N.png} (rows: masked input | reference | prediction | target, decoded). With a
 * seeded random TAESD (the demo's) decoded images carry no picture, so the grid shows the latents instead: channels
 * 0–2 as RGB, stretched over the targets' range, 8× enlarged.
 */
public final class UNetValidation implements Validator {
    static final int PER_CLIP = 4;
    static final int GRID_ROWS = 6;
    private static final int BATCH = 16;

    private final UNetSampler sampler;
    private final int[][] refs;
    private final Taesd.Model decoder;
    private final Storage out;
    private final boolean mse;
    private final boolean showLatents;

    public UNetValidation(List<ClipLatents> clips, int left, int right, long seed, Taesd.Model decoder, boolean showLatents,
                          Storage outputDir, String loss) {
        this(clips, left, right, seed, decoder, showLatents, outputDir, loss, 1, AudioPositionalEncoding.NONE);
    }

    public UNetValidation(List<ClipLatents> clips, int left, int right, long seed, Taesd.Model decoder, boolean showLatents,
                          Storage outputDir, String loss, int referenceMinDistance, AudioPositionalEncoding positionalEncoding) {
        this.showLatents = showLatents;
        this.sampler = new UNetSampler(clips, left, right, referenceMinDistance, positionalEncoding);
        this.refs = sampler.validationRefs(PER_CLIP, seed);
        this.decoder = decoder;
        this.out = outputDir;
        this.mse = loss.equals("mse");
    }

    /**
     * What a worker needs to validate: the held-out clips of the latent cache ({@code folder} of {@code out}), the VAE to
     * decode with ({@code vaeSpec}, resolved on the worker into {@code vaeCache}) and the sampling settings.
     */
    public record Plan(List<String> clips, Storage out, String folder, String vaeSpec, String vaeCache,
                       org.apache.spark.util.SerializableConfiguration hadoop, int left, int right, long seed, String loss,
                       int referenceMinDistance, String positionalEncoding) implements Validator.Plan {
        @Override
        public Validator open() throws IOException {
            List<dev.avatartrain.data.ClipLatents> val = new java.util.ArrayList<>();
            for (String c : clips) val.add(dev.avatartrain.encode.LatentStore.readClip(out, folder, c));
            dev.avatartrain.models.taesd.TaesdSource vae = dev.avatartrain.models.taesd.TaesdSource.resolve(vaeSpec,
                    java.nio.file.Path.of(vaeCache), hadoop.value());
            return new UNetValidation(val, left, right, seed, vae.decoder(), vae.isRandom(), out, loss, referenceMinDistance,
                    AudioPositionalEncoding.of(positionalEncoding));
        }
    }

    public int samples() {
        return refs.length;
    }

    @Override
    public Map<String, Object> validate(Network net, long step) throws IOException {
        double lossSum = 0, l1Sum = 0, psnrSum = 0;
        BufferedImage grid = null;
        for (int from = 0; from < refs.length; from += BATCH) {
            int[][] part = java.util.Arrays.copyOfRange(refs, from, Math.min(refs.length, from + BATCH));
            UNetBatch b = sampler.build(part);
            INDArray pred = net.forward(UNetTask.placeholders(b), UNet.OUT).get(UNet.OUT);
            INDArray diff = pred.sub(b.target());
            long per = diff.length() / part.length;
            l1Sum += Transforms.abs(diff).sumNumber().doubleValue() / per;
            lossSum += (mse ? diff.mul(diff).sumNumber().doubleValue() : Transforms.abs(diff).sumNumber().doubleValue()) / per;
            INDArray predImg = clamp01(decoder.decode(pred));
            INDArray targetImg = clamp01(decoder.decode(b.target()));
            long h = predImg.size(2);
            INDArray mouthDiff = predImg.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.interval(h / 2, h), NDArrayIndex.all())
                    .sub(targetImg.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.interval(h / 2, h), NDArrayIndex.all()));
            for (int i = 0; i < part.length; i++) {
                double m = mouthDiff.get(NDArrayIndex.point(i)).mul(mouthDiff.get(NDArrayIndex.point(i))).meanNumber().doubleValue();
                psnrSum += 10 * Math.log10(1.0 / Math.max(m, 1e-10));
            }
            if (from == 0) grid = showLatents ? latentGrid(b, pred) : grid(b, predImg, targetImg);
        }
        int n = refs.length;
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("val_loss", lossSum / n);
        v.put("val_l1", l1Sum / n);
        v.put("val_mouth_psnr_db", psnrSum / n);
        byte[] png = png(grid);
        String name = String.format("validation/step-%06d.png", step);
        out.write(name, o -> o.write(png));
        out.write("validation/latest.png", o -> o.write(png));
        v.put("grid", name);
        return v;
    }

    private BufferedImage grid(UNetBatch b, INDArray predImg, INDArray targetImg) {
        int rows = Math.min(GRID_ROWS, b.size());
        long c = b.target().size(1);
        INDArray first = b.input().get(NDArrayIndex.interval(0, rows));
        INDArray masked = clamp01(decoder.decode(first.get(NDArrayIndex.all(), NDArrayIndex.interval(0, c)).dup()));
        INDArray reference = clamp01(decoder.decode(first.get(NDArrayIndex.all(), NDArrayIndex.interval(c, 2 * c)).dup()));
        int s = (int) predImg.size(2);
        BufferedImage img = new BufferedImage(4 * s, rows * s, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        for (int r = 0; r < rows; r++) {
            INDArray[] cols = {masked.get(NDArrayIndex.point(r)), reference.get(NDArrayIndex.point(r)), predImg.get(NDArrayIndex.point(r)),
                    targetImg.get(NDArrayIndex.point(r))};
            for (int k = 0; k < 4; k++) g.drawImage(FrameImages.toImage(cols[k]), k * s, r * s, null);
        }
        g.dispose();
        return img;
    }

    private BufferedImage latentGrid(UNetBatch b, INDArray pred) {
        int rows = Math.min(GRID_ROWS, b.size());
        long c = b.target().size(1);
        INDArray t = b.target().get(NDArrayIndex.interval(0, rows));
        double lo = t.minNumber().doubleValue(), hi = t.maxNumber().doubleValue(), range = Math.max(hi - lo, 1e-6);
        INDArray[] cols = {b.input().get(NDArrayIndex.interval(0, rows), NDArrayIndex.interval(0, c)).dup(),
                b.input().get(NDArrayIndex.interval(0, rows), NDArrayIndex.interval(c, 2 * c)).dup(),
                pred.get(NDArrayIndex.interval(0, rows)).dup(), t.dup()};
        int h = (int) t.size(2) * 8, w = (int) t.size(3) * 8;
        BufferedImage img = new BufferedImage(4 * w, rows * h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        for (int r = 0; r < rows; r++) {
            for (int k = 0; k < 4; k++) {
                INDArray rgb = cols[k].get(NDArrayIndex.point(r)).get(NDArrayIndex.interval(0, Math.min(3, c))).sub(lo).divi(range);
                if (c < 3) rgb = org.nd4j.linalg.factory.Nd4j.concat(0, rgb, rgb, rgb).get(NDArrayIndex.interval(0, 3));
                g.drawImage(FrameImages.toImage(rgb), k * w, r * h, w, h, null); // nearest neighbour: the default hint
            }
        }
        g.dispose();
        return img;
    }

    private static INDArray clamp01(INDArray x) {
        return Transforms.min(Transforms.max(x, 0.0, true), 1.0, false);
    }

    private static byte[] png(BufferedImage img) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ImageIO.write(img, "png", bytes);
        return bytes.toByteArray();
    }

}
