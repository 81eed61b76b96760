package dev.avatartrain.models.unet;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Graph gradients against central finite differences, in double precision, on tiny configs. */
class UNetGradientTest {
    static final String[] PARAMS = {"conv_in.weight", "time_embedding.linear_1.bias",
        "down_blocks.0.resnets.0.norm1.weight", "down_blocks.0.attentions.0.proj_in.weight",
        "down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight",
        "down_blocks.0.attentions.0.transformer_blocks.0.attn2.to_v.weight",
        "down_blocks.0.attentions.0.transformer_blocks.0.norm3.bias",
        "mid_block.attentions.0.transformer_blocks.0.ff.net.0.proj.weight",
        "up_blocks.1.resnets.1.conv_shortcut.weight", "up_blocks.0.upsamplers.0.conv.weight",
        "conv_norm_out.bias", "conv_out.weight"};

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void matchesFiniteDifferences(boolean linearProjection) {
        String json = "{\"in_channels\": 3, \"out_channels\": 2, \"block_out_channels\": [4, 8], \"layers_per_block\": 1,"
                + " \"down_block_types\": [\"CrossAttnDownBlock2D\", \"DownBlock2D\"],"
                + " \"up_block_types\": [\"UpBlock2D\", \"CrossAttnUpBlock2D\"], \"norm_num_groups\": 2,"
                + " \"cross_attention_dim\": 3, \"attention_head_dim\": 2, \"use_linear_projection\": "
                + linearProjection + ", \"act_fn\": \"" + (linearProjection ? "gelu" : "silu") + "\","
                + " \"downsample_padding\": " + (linearProjection ? 0 : 1) + "}";
        UNet net = UNet.build(UNetConfig.parse(json, "gradcheck"), DataType.DOUBLE, 5);
        Nd4j.getRandom().setSeed(7);
        Map<String, INDArray> ph = new HashMap<>(net.placeholders(Nd4j.randn(DataType.DOUBLE, 2, 3, 4, 4),
                Nd4j.createFromArray(10.0, 500.0), Nd4j.randn(DataType.DOUBLE, 2, 2, 3)));
        ph.put(UNet.TARGET, Nd4j.randn(DataType.DOUBLE, 2, 2, 4, 4));
        // non-trivial norm parameters
        for (Map.Entry<String, INDArray> e : net.parameters().entrySet()) {
            if (e.getKey().contains("norm")) {
                e.getValue().addi(Nd4j.randn(DataType.DOUBLE, e.getValue().shape()).muli(0.3));
            }
        }
        Map<String, INDArray> grads = net.gradients(ph, UNet.LOSS);
        double eps = 1e-6;
        for (String name : PARAMS) {
            INDArray p = net.parameters().get(name);
            INDArray g = grads.get(name);
            for (long i : new long[] {0, p.length() / 2, p.length() - 1}) {
                double orig = p.getDouble(i);
                p.putScalar(i, orig + eps);
                double plus = loss(net, ph);
                p.putScalar(i, orig - eps);
                double minus = loss(net, ph);
                p.putScalar(i, orig);
                double numeric = (plus - minus) / (2 * eps);
                double analytic = g.getDouble(i);
                double err = Math.abs(numeric - analytic) / Math.max(1e-8, Math.abs(numeric) + Math.abs(analytic));
                assertTrue(err < 1e-5 || Math.abs(numeric - analytic) < 1e-9,
                        name + "[" + i + "]: analytic " + analytic + " numeric " + numeric);
            }
        }
    }

    static double loss(UNet net, Map<String, INDArray> ph) {
        return net.forward(ph, UNet.LOSS).get(UNet.LOSS).getDouble(0);
    }
}
