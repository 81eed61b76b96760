package dev.avatartrain.config;

import java.io.Serializable;
import java.util.Map;

/** {@code optimizer.yaml}: AdamW, the learning-rate schedule and gradient clipping. */
public record OptimizerConfig(double learningRate, boolean scaleLr, String lrScheduler, int lrWarmupSteps,
                              double adamBeta1, double adamBeta2, double adamWeightDecay, double adamEpsilon,
                              double maxGradNorm, int lrNumCycles, double lrPower) implements Serializable {

    static OptimizerConfig from(Map<String, Object> v) {
        return new OptimizerConfig((Double) v.get("learning_rate"), (Boolean) v.get("scale_lr"),
                (String) v.get("lr_scheduler"), (Integer) v.get("lr_warmup_steps"), (Double) v.get("adam_beta1"),
                (Double) v.get("adam_beta2"), (Double) v.get("adam_weight_decay"), (Double) v.get("adam_epsilon"),
                (Double) v.get("max_grad_norm"), (Integer) v.get("lr_num_cycles"), (Double) v.get("lr_power"));
    }
}
