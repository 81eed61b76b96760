package dev.avatartrain.models.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import dev.avatartrain.models.adapter.AudioProjConfig;
import dev.avatartrain.models.adapter.AudioProjModel;
import dev.avatartrain.models.adapter.AudioWindows;
import dev.avatartrain.models.unet.UNet;
import dev.avatartrain.models.unet.UNetConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Gradient checkpointing on the tape: the loss and every parameter's gradient equal those without it to float32
 * rounding, for the UNet (a small and a wider configuration) and the adapter, on two steps in a row (the second
 * reuses the memory the first handed back).
 */
class GradientCheckpointingTest {
    /** Wider than tiny.json: three levels, two layers per block, 16 groups, the deep level's GEMM backward. */
    static final String WIDE = "{\"in_channels\": 8, \"out_channels\": 4, \"block_out_channels\": [32, 64, 128],"
            + " \"layers_per_block\": 2, \"down_block_types\": [\"CrossAttnDownBlock2D\", \"CrossAttnDownBlock2D\","
            + " \"DownBlock2D\"], \"up_block_types\": [\"UpBlock2D\", \"CrossAttnUpBlock2D\", \"CrossAttnUpBlock2D\"],"
            + " \"cross_attention_dim\": 48, \"attention_head_dim\": 8, \"norm_num_groups\": 16,"
            + " \"use_linear_projection\": true, \"downsample_padding\": 0}";

    @ParameterizedTest
    @ValueSource(strings = {"tiny", "wide"})
    void unetGradientsEqualThoseWithoutCheckpointing(String which) {
        UNetConfig cfg = which.equals("tiny") ? UNetConfig.read(Path.of("configuration/unet/tiny.json"))
                : UNetConfig.parse(WIDE, "wide");
        int b = 2, hw = 8;
        Nd4j.getRandom().setSeed(5);
        UNet plain = UNet.build(cfg, DataType.FLOAT, 9, Backend.TAPE);
        UNet checkpointed = UNet.build(cfg, DataType.FLOAT, 9, Backend.TAPE);
        checkpointed.gradientCheckpointing(true);
        Map<String, INDArray> ph = new HashMap<>(plain.placeholders(Nd4j.randn(DataType.FLOAT, b, cfg.inChannels(), hw, hw),
                Nd4j.createFromArray(3f, 700f), Nd4j.randn(DataType.FLOAT, b, 5, cfg.crossAttentionDim())));
        ph.put(UNet.TARGET, Nd4j.randn(DataType.FLOAT, b, cfg.outChannels(), hw, hw));
        assertSameGradients(plain, checkpointed, ph, which.equals("tiny") ? UNet.LOSS : UNet.LOSS_L1, which);
    }

    @Test
    void adapterGradientsEqualThoseWithoutCheckpointing() {
        AudioProjConfig cfg = new AudioProjConfig(3, 4, 2, 16, 64, 4, 32, true);
        AudioProjModel plain = AudioProjModel.build(cfg, DataType.FLOAT, 5, Backend.TAPE);
        AudioProjModel checkpointed = AudioProjModel.build(cfg, DataType.FLOAT, 5, Backend.TAPE);
        checkpointed.gradientCheckpointing(true);
        Nd4j.getRandom().setSeed(11);
        var audio = java.util.List.of(Nd4j.randn(DataType.FLOAT, 9, 2, 16), Nd4j.randn(DataType.FLOAT, 5, 2, 16));
        var target = java.util.List.of(Nd4j.randn(DataType.FLOAT, 3, 4, 32), Nd4j.randn(DataType.FLOAT, 2, 4, 32));
        Map<String, INDArray> ph = plain.placeholders(AudioWindows.batch(audio, target, new double[] {0.5, 1.5}, cfg,
                DataType.FLOAT));
        assertSameGradients(plain, checkpointed, ph, AudioProjModel.LOSS, "adapter");
    }

    private static void assertSameGradients(DefinedNetwork plain, DefinedNetwork checkpointed, Map<String, INDArray> ph,
                                            String loss, String what) {
        Network.LossAndGradients expected = plain.lossAndGradients(ph, loss);
        for (int step = 0; step < 2; step++) {
            Network.LossAndGradients actual = checkpointed.lossAndGradients(ph, loss);
            assertEquals(expected.loss(), actual.loss(), 1e-6 * Math.abs(expected.loss()), what + " " + loss);
            for (String p : plain.parameterNames()) {
                Parity.assertClose(expected.gradients().get(p), actual.gradients().get(p), 1e-5,
                        what + " " + loss + " step " + step + ": gradient of " + p);
            }
            checkpointed.recycle(actual.gradients()); // as the engine does: the next step reuses this memory
        }
        plain.recycle(expected.gradients());
    }
}
