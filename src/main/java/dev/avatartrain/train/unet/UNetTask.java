package dev.avatartrain.train.unet;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import dev.avatartrain.data.AudioPositionalEncoding;
import dev.avatartrain.data.ClipLatents;
import dev.avatartrain.data.UNetBatch;
import dev.avatartrain.data.UNetSampler;
import dev.avatartrain.encode.LatentStore;
import dev.avatartrain.models.nn.Network;
import dev.avatartrain.models.unet.UNet;
import dev.avatartrain.models.unet.UNetConfig;
import dev.avatartrain.models.unet.UNetWeights;
import dev.avatartrain.storage.Storage;
import dev.avatartrain.train.TrainingTask;

/**
 * The lip-sync UNet as a {@link TrainingTask}: a shard is a list of clips of the latent cache; a sample is the
 * masked latent of frame t ‖ the latent of a reference frame of the same clip (input), the audio features of
 * frames t−left … t+right (cross-attention sequence) and the latent of t (target). The UNet is a one-step
 * inpainter (as MuseTalk): the timestep input is always 0.
 */
public record UNetTask(String unetConfigJson, String unetConfigSource, long seed, int batchSize, int left, int right, String loss,
                       Storage latents, String folder, String positionalEncoding, int referenceMinDistance, String pretrainedWeights,
                       boolean gradientCheckpointing)
        implements TrainingTask {

    /** Random initial weights, references at any other frame, no audio positional encoding, no checkpointing. */
    public UNetTask(String unetConfigJson, String unetConfigSource, long seed, int batchSize, int left, int right, String loss,
                    Storage latents, String folder) {
        this(unetConfigJson, unetConfigSource, seed, batchSize, left, right, loss, latents, folder, "none", 1, null, false);
    }

    /** Shards whose clips stay loaded per executor JVM (oldest dropped first). */
    private static final int CACHED_SHARDS = 2;
    private static final Map<String, List<ClipLatents>> SHARDS = java.util.Collections.synchronizedMap(
            new LinkedHashMap<>(4, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<String, List<ClipLatents>> e) {
                    return size() > CACHED_SHARDS;
                }
            });

    public UNetConfig unetConfig() {
        return UNetConfig.parse(unetConfigJson, unetConfigSource);
    }

    @Override
    public String networkKey() {
        return "unet-" + Integer.toHexString(unetConfigJson.hashCode()) + "-" + loss + (gradientCheckpointing ? "-ckpt" : "");
    }

    @Override
    public Network buildNetwork() {
        UNet net = UNet.build(unetConfig(), DataType.FLOAT, seed);
        net.gradientCheckpointing(gradientCheckpointing);
        return net;
    }

    /** Released weights ({@code pretrainedWeights}, a resolved local file) on the driver's network, loaded strictly. */
    @Override
    public void initialise(Network net) {
        if (pretrainedWeights == null) return;
        java.nio.file.Path file = java.nio.file.Path.of(pretrainedWeights);
        UNetWeights.load(net, UNetWeights.read(file), file.toString());
    }

    /** Recorded in every checkpoint: the positional encoding the weights were trained with and the UNet's config. */
    @Override
    public Map<String, Object> checkpointInfo() {
        Map<String, Object> info = new LinkedHashMap<>();
        info.put(UNetWeights.PE_KEY, positionalEncoding);
        info.put(UNetWeights.CONFIG_KEY, unetConfigJson);
        return info;
    }

    public AudioPositionalEncoding audioPositionalEncoding() {
        return AudioPositionalEncoding.of(positionalEncoding);
    }

    @Override
    public String lossName() {
        return loss.equals("mse") ? UNet.LOSS : UNet.LOSS_L1;
    }

    @Override
    public BatchSource open(List<String> shard) {
        String key = latents.locations().get(0) + "/" + folder + ":" + String.join(",", shard);
        List<ClipLatents> clips = SHARDS.get(key);
        if (clips == null) {
            clips = new ArrayList<>();
            for (String c : shard) clips.add(LatentStore.readClip(latents, folder, c));
            SHARDS.put(key, clips);
        }
        UNetSampler sampler = new UNetSampler(clips, left, right, referenceMinDistance, audioPositionalEncoding());
        return rng -> placeholders(sampler.draw(batchSize, rng));
    }

    /** The graph's placeholders for a batch (timestep 0 for every sample). */
    public static Map<String, INDArray> placeholders(UNetBatch b) {
        Map<String, INDArray> ph = new LinkedHashMap<>();
        ph.put(UNet.SAMPLE, b.input());
        ph.put(UNet.TIMESTEP, Nd4j.zeros(DataType.FLOAT, b.size()));
        ph.put(UNet.ENCODER_HIDDEN_STATES, b.audio());
        ph.put(UNet.TARGET, b.target());
        return ph;
    }
}
