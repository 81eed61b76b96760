package dev.avatartrain.train.adapter;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.apache.hadoop.conf.Configuration;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import dev.avatartrain.data.adapter.AdapterManifest;
import dev.avatartrain.models.adapter.AudioProjConfig;
import dev.avatartrain.models.adapter.AudioProjModel;
import dev.avatartrain.models.adapter.AudioWindows;
import dev.avatartrain.models.nn.Network;
import dev.avatartrain.tensors.TensorFiles;
import dev.avatartrain.train.TrainingTask;

/**
 * The audio adapter as a {@link TrainingTask}: a shard is a list of manifest items (their indices), loaded lazily
 * by the worker and kept per JVM; a micro-batch is {@code batchSize} items drawn uniformly with replacement,
 * windowed as at inference and padded to the longest clip, with a mask so padding frames carry no loss
 * ({@link AudioWindows#batch}); each example's loss is multiplied by its manifest weight.
 */
public record AdapterTask(AdapterManifest manifest, AudioProjConfig config, long seed, int batchSize, String initWeights,
                          Map<String, String> hadoopSettings) implements TrainingTask {
    private static final Logger LOG = LoggerFactory.getLogger(AdapterTask.class);

    private static final Map<String, List<AdapterManifest.Example>> SHARDS = java.util.Collections.synchronizedMap(
            new LinkedHashMap<>(4, 0.75f, true) {
                @Override
                protected boolean removeEldestEntry(Map.Entry<String, List<AdapterManifest.Example>> e) {
                    return size() > 2;
                }
            });

    @Override
    public String networkKey() {
        return "adapter-" + config.toJson().hashCode();
    }

    @Override
    public Network buildNetwork() {
        return AudioProjModel.build(config, DataType.FLOAT, seed);
    }

    @Override
    public void initialise(Network net) {
        if (initWeights == null || initWeights.isBlank()) return;
        org.apache.hadoop.conf.Configuration conf = new org.apache.hadoop.conf.Configuration();
        hadoopSettings.forEach(conf::set);
        Map<String, INDArray> w = TensorFiles.read(
                dev.avatartrain.hub.HubFiles.resolveWeightsFile(initWeights, AudioProjModel.WEIGHTS_FILES, conf), DataType.FLOAT);
        ((AudioProjModel) net).load(w, initWeights);
        LOG.info("train-adapter: starting from " + initWeights + " (prefix \"" + AudioProjModel.prefixOf(w) + "\")");
    }

    @Override
    public String lossName() {
        return AudioProjModel.LOSS;
    }

    @Override
    public BatchSource open(List<String> shard) {
        List<AdapterManifest.Example> examples = load(shard);
        return rng -> {
            List<AdapterManifest.Example> batch = new ArrayList<>(batchSize);
            for (int i = 0; i < batchSize; i++) batch.add(examples.get(rng.nextInt(examples.size())));
            return placeholders(AdapterManifest.batch(batch, config, DataType.FLOAT));
        };
    }

    /** The examples of a shard (cached per JVM). */
    public List<AdapterManifest.Example> load(List<String> shard) {
        String key = manifest.source() + ":" + String.join(",", shard);
        List<AdapterManifest.Example> examples = SHARDS.get(key);
        if (examples == null) {
            Configuration conf = new Configuration();
            hadoopSettings.forEach(conf::set);
            examples = new ArrayList<>();
            for (String i : shard) examples.add(manifest.load(Integer.parseInt(i), config, conf));
            SHARDS.put(key, examples);
        }
        return examples;
    }

    /** The graph's placeholders of a batch (the same map {@link AudioProjModel#placeholders(AudioWindows.Batch)} builds). */
    public static Map<String, INDArray> placeholders(AudioWindows.Batch b) {
        Map<String, INDArray> m = new LinkedHashMap<>();
        m.put(AudioProjModel.AUDIO_EMBEDS, b.first());
        m.put(AudioProjModel.AUDIO_EMBEDS_VF, b.later());
        m.put(AudioProjModel.TARGET, b.target());
        m.put(AudioProjModel.MASK, b.mask());
        m.put(AudioProjModel.WEIGHT, b.weight());
        return m;
    }
}
