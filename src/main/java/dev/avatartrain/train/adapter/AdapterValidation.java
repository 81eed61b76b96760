package dev.avatartrain.train.adapter;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import dev.avatartrain.data.adapter.AdapterManifest;
import dev.avatartrain.models.adapter.AudioProjModel;
import dev.avatartrain.models.adapter.AudioWindows;
import dev.avatartrain.models.nn.Network;
import dev.avatartrain.train.Validator;

/**
 * Validation of the adapter on held-out manifest items, on a worker (rank 0): the training loss (masked, weighted MSE on
 * tokens, {@code val_loss}), and statistics of the predicted tokens against the teacher's: mean cosine similarity
 * per token ({@code val_token_cosine}) and the ratio of their standard deviations ({@code val_token_std_ratio}).
 */
public final class AdapterValidation implements Validator {
    private final List<AdapterManifest.Example> examples;
    private final AdapterTask task;

    /** The held-out items by manifest index; a worker loads them when it opens the plan. */
    public record Plan(AdapterTask task, List<String> items) implements Validator.Plan {
        @Override
        public Validator open() {
            return new AdapterValidation(task.load(items), task);
        }
    }

    public AdapterValidation(List<AdapterManifest.Example> examples, AdapterTask task) {
        this.examples = examples;
        this.task = task;
    }

    @Override
    public Map<String, Object> validate(Network net, long step) {
        double loss = 0, cosine = 0, predStd = 0, targetStd = 0;
        int tokens = 0;
        for (AdapterManifest.Example e : examples) {
            AudioWindows.Batch b = AdapterManifest.batch(List.of(e), task.config(), DataType.FLOAT);
            Map<String, INDArray> r = net.forward(AdapterTask.placeholders(b), AudioProjModel.OUT, AudioProjModel.LOSS);
            loss += r.get(AudioProjModel.LOSS).getDouble(0);
            int frames = b.frames()[0];
            long d = e.target().size(2);
            INDArray pred = r.get(AudioProjModel.OUT).get(org.nd4j.linalg.indexing.NDArrayIndex.point(0),
                    org.nd4j.linalg.indexing.NDArrayIndex.interval(0, frames)).dup().reshape(-1, d);
            INDArray target = e.target().dup().reshape(-1, d);
            INDArray dot = pred.mul(target).sum(1);
            INDArray norms = pred.norm2(1).mul(target.norm2(1)).addi(1e-12);
            cosine += dot.divi(norms).sumNumber().doubleValue();
            tokens += (int) pred.size(0);
            predStd += pred.stdNumber().doubleValue();
            targetStd += target.stdNumber().doubleValue();
        }
        Map<String, Object> v = new LinkedHashMap<>();
        v.put("val_loss", loss / examples.size());
        v.put("val_token_cosine", cosine / tokens);
        v.put("val_token_std_ratio", predStd / Math.max(targetStd, 1e-12));
        return v;
    }
}
