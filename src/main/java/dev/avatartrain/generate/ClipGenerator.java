package dev.avatartrain.generate;

import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.Serializable;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;

import javax.imageio.ImageIO;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import com.fasterxml.jackson.databind.ObjectMapper;

import dev.avatartrain.data.AudioPositionalEncoding;
import dev.avatartrain.data.ClipLatents;
import dev.avatartrain.data.FrameImages;
import dev.avatartrain.data.UNetBatch;
import dev.avatartrain.data.UNetSampler;
import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.models.taesd.Taesd;
import dev.avatartrain.models.taesd.TaesdSource;
import dev.avatartrain.models.unet.UNet;
import dev.avatartrain.models.unet.UNetConfig;
import dev.avatartrain.models.unet.UNetWeights;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.tensors.Npy;

/**
 * Generates one clip, on an executor: reads its frames and per-frame audio features from {@code frames} (local, s3a, HTTPS),
 * encodes each frame as is and with its lower half masked (TAESD), predicts every frame's latent from the masked frame, a
 * reference frame chosen as in training ({@link UNetSampler#reference}, at least {@code minDistance} frames away where the
 * clip allows, seeded by the clip's name) and the audio window (with the positional encoding the weights were trained with),
 * decodes it, and writes under {@code out/<clip>/}: {@code frames/<frame>.png}, {@code strip.png} (one row per frame:
 * real frame | prediction) and {@code generate.json} (per-frame and mean PSNR/SSIM of the lower half against the real frame).
 * Networks are built once per executor JVM.
 */
public record ClipGenerator(String imageFolder, String audioFolder, int imageSize, String vaeSpec, String weightsSpec,
                            String unetConfigJson, String positionalEncoding, int left, int right, int minDistance, long seed,
                            Storage frames, Storage out) implements Serializable {
    static final int BATCH = 8;
    private static final Map<String, Object> NETWORKS = new ConcurrentHashMap<>();
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One frame's scores. */
    public record FrameScore(String frame, int reference, double psnr, double ssim) implements Serializable {}

    /** One clip's result; {@code error} is set (and the scores empty) when the clip could not be generated. */
    public record ClipReport(String clip, int frames, double meanPsnr, double meanSsim, List<FrameScore> scores, String error)
            implements Serializable {}

    public ClipReport generate(String clip) {
        try {
            return run(clip);
        } catch (BadInputException | IOException e) {
            return new ClipReport(clip, 0, Double.NaN, Double.NaN, List.of(), e.getMessage());
        }
    }

    private ClipReport run(String clip) throws IOException {
        List<String> names = new ArrayList<>();
        List<float[]> images = new ArrayList<>();
        List<INDArray> audio = new ArrayList<>();
        String dir = imageFolder + "/" + clip;
        if (!frames.exists(dir)) throw new BadInputException(frames.locations().get(0).child(dir) + ": no such clip folder");
        List<String> files = new ArrayList<>(frames.list(dir));
        files.removeIf(f -> !f.toLowerCase(Locale.ROOT).matches(".*\\.(png|jpg|jpeg)"));
        files.sort(null);
        for (String f : files) {
            String frame = f.substring(0, f.lastIndexOf('.'));
            String audioFile = audioFolder + "/" + clip + "/" + frame + ".npy";
            if (!frames.exists(audioFile)) continue; // a frame without audio cannot be generated
            images.add(FrameImages.decodeChw(frames.readAll(dir + "/" + f), dir + "/" + f, imageSize));
            INDArray a;
            try (InputStream in = frames.open(audioFile)) {
                a = Npy.read(in, audioFile).toINDArray(DataType.FLOAT);
            }
            audio.add(a.rank() == 1 ? a.reshape(1, a.length()) : a);
            names.add(frame);
        }
        if (names.size() < 2) {
            throw new BadInputException(clip + ": " + names.size() + " frames with audio features (generate needs 2: target and reference)");
        }
        Taesd.Model encoder = (Taesd.Model) NETWORKS.computeIfAbsent("enc:" + vaeSpec, k -> vae().encoder());
        Taesd.Model decoder = (Taesd.Model) NETWORKS.computeIfAbsent("dec:" + vaeSpec, k -> vae().decoder());
        UNet unet = (UNet) NETWORKS.computeIfAbsent("unet:" + weightsSpec + ":" + unetConfigJson.hashCode(), k -> unet());
        List<INDArray> latents = new ArrayList<>(), masked = new ArrayList<>();
        synchronized (encoder) {
            for (int from = 0; from < images.size(); from += BATCH) {
                List<float[]> batch = images.subList(from, Math.min(images.size(), from + BATCH));
                latents.add(encoder.encode(FrameImages.stack(batch, imageSize)));
                masked.add(encoder.encode(FrameImages.stack(batch.stream().map(x -> FrameImages.maskLowerHalf(x, imageSize)).toList(), imageSize)));
            }
        }
        ClipLatents c = new ClipLatents(clip, names, Nd4j.concat(0, latents.toArray(INDArray[]::new)),
                Nd4j.concat(0, masked.toArray(INDArray[]::new)), Nd4j.stack(0, audio.toArray(INDArray[]::new)));
        UNetSampler sampler = new UNetSampler(List.of(c), left, right, minDistance, AudioPositionalEncoding.of(positionalEncoding));
        SplittableRandom rng = new SplittableRandom(seed ^ clip.hashCode());
        int n = names.size();
        int[][] refs = new int[n][];
        for (int t = 0; t < n; t++) refs[t] = new int[] {0, t, sampler.reference(t, n, rng)};

        List<FrameScore> scores = new ArrayList<>();
        BufferedImage strip = new BufferedImage(2 * imageSize, n * imageSize, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = strip.createGraphics();
        int half = imageSize / 2;
        for (int from = 0; from < n; from += BATCH) {
            int[][] part = java.util.Arrays.copyOfRange(refs, from, Math.min(n, from + BATCH));
            UNetBatch b = sampler.build(part);
            INDArray pred;
            synchronized (unet) {
                pred = unet.forward(b.input(), Nd4j.zeros(DataType.FLOAT, b.size()), b.audio());
            }
            INDArray img;
            synchronized (decoder) {
                img = decoder.decode(pred);
            }
            for (int i = 0; i < part.length; i++) {
                int t = part[i][1];
                INDArray chw = img.get(NDArrayIndex.point(i)).dup('c');
                float[] p = chw.data().asFloat();
                for (int k = 0; k < p.length; k++) p[k] = Math.max(0f, Math.min(1f, p[k]));
                float[] real = images.get(t);
                scores.add(new FrameScore(names.get(t), part[i][2], ImageMetrics.psnr(p, real, imageSize, half, imageSize),
                        ImageMetrics.ssim(p, real, imageSize, half, imageSize)));
                BufferedImage predicted = FrameImages.toImage(Nd4j.create(p, new long[] {3, imageSize, imageSize}, 'c'));
                byte[] png = png(predicted);
                out.write(clip + "/frames/" + names.get(t) + ".png", o -> o.write(png));
                g.drawImage(FrameImages.toImage(Nd4j.create(real, new long[] {3, imageSize, imageSize}, 'c')), 0, t * imageSize, null);
                g.drawImage(predicted, imageSize, t * imageSize, null);
            }
        }
        g.dispose();
        byte[] stripPng = png(strip);
        out.write(clip + "/strip.png", o -> o.write(stripPng));
        double psnr = scores.stream().mapToDouble(FrameScore::psnr).average().orElse(Double.NaN);
        double ssim = scores.stream().mapToDouble(FrameScore::ssim).average().orElse(Double.NaN);
        ClipReport report = new ClipReport(clip, n, psnr, ssim, scores, null);
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("clip", clip);
        json.put("weights", weightsSpec);
        json.put("audio_positional_encoding", positionalEncoding);
        json.put("reference_min_distance", minDistance);
        json.put("region", "lower half (rows " + half + "-" + (imageSize - 1) + " of " + imageSize + ")");
        json.put("frames", n);
        json.put("mean_mouth_psnr_db", psnr);
        json.put("mean_mouth_ssim", ssim);
        json.put("per_frame", scores);
        byte[] bytes = JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(json);
        out.write(clip + "/generate.json", o -> o.write(bytes));
        return report;
    }

    private TaesdSource vae() {
        return TaesdSource.resolve(vaeSpec, Path.of(System.getProperty("java.io.tmpdir"), "avatar-train-vae"), out.hadoopConf());
    }

    private UNet unet() {
        UNet net = UNet.build(UNetConfig.parse(unetConfigJson, "the UNet config"), DataType.FLOAT, seed);
        UNetWeights.Source src = UNetWeights.locate(weightsSpec, Path.of(System.getProperty("java.io.tmpdir"), "avatar-train-unet"),
                out.hadoopConf(), null);
        UNetWeights.load(net, UNetWeights.read(src.weights()), src.weights().toString());
        return net;
    }

    static byte[] png(BufferedImage img) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ImageIO.write(img, "png", bytes);
        return bytes.toByteArray();
    }
}
