package dev.avatartrain.models.unet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.avatartrain.errors.BadInputException;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Config parsing with diffusers' meaning, and parameter names/shapes equal to diffusers' state_dict. */
class UNetConfigTest {
    static final Path FIX = Path.of("src/test/resources/fixtures/unet");
    static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void readsTheProjectConfigs() {
        UNetConfig big = UNetConfig.read(Path.of("configuration/unet/config.json"));
        assertArrayEquals(new int[] {320, 640, 1280, 1280}, big.blockOutChannels());
        assertArrayEquals(new int[] {8, 8, 8, 8}, big.attentionHeads()); // attention_head_dim 8 = 8 heads
        assertArrayEquals(new int[] {2, 2, 2, 2}, big.layersPerBlock());
        assertEquals(384, big.crossAttentionDim());
        assertEquals(8, big.sizeMultiple());
        assertEquals(Integer.valueOf(32), big.sampleSize());
        UNetConfig tiny = UNetConfig.read(Path.of("configuration/unet/tiny.json"));
        assertEquals(8, tiny.inChannels());
        assertEquals(UNetConfig.parse(tiny.toJson(), "round trip"), tiny);
    }

    @Test
    void defaultsAreDiffusers() {
        UNetConfig c = UNetConfig.parse("{}", "empty.json");
        assertArrayEquals(new int[] {320, 640, 1280, 1280}, c.blockOutChannels());
        assertEquals(1280, c.crossAttentionDim());
        assertEquals("silu", c.actFn());
        assertTrue(c.flipSinToCos());
        assertEquals(1e-5, c.normEps());
        assertNull(c.sampleSize());
    }

    /** Parameter names and shapes equal diffusers' state_dict for tiny.json (all shapes). */
    @Test
    void tinyParametersAreDiffusers() throws Exception {
        UNet net = UNet.build(UNetConfig.read(Path.of("configuration/unet/tiny.json")), DataType.FLOAT, 3);
        Map<String, String> expected = new TreeMap<>();
        JsonNode names = JSON.readTree(FIX.resolve("names_tiny.json").toFile());
        names.fields().forEachRemaining(e -> expected.put(e.getKey(), e.getValue().toString()));
        Map<String, String> actual = new TreeMap<>();
        for (Map.Entry<String, INDArray> e : net.parameters().entrySet()) {
            actual.put(e.getKey(), java.util.Arrays.toString(e.getValue().shape()).replace(" ", ""));
        }
        assertEquals(expected, actual);
    }

    /**
     * configuration/unet/config.json (850 M parameters) is too big to build in a test; the same config with
     * its channels divided by 40 has exactly diffusers' names for the full one.
     */
    @Test
    void museTalkConfigHasDiffusersNames() throws Exception {
        ObjectNode cfg = (ObjectNode) JSON.readTree(Path.of("configuration/unet/config.json").toFile());
        ArrayNode ch = cfg.putArray("block_out_channels");
        for (int c : new int[] {8, 16, 32, 32}) {
            ch.add(c);
        }
        cfg.put("norm_num_groups", 4);
        cfg.put("cross_attention_dim", 8);
        UNet net = UNet.build(UNetConfig.parse(cfg.toString(), "scaled config.json"), DataType.FLOAT, 3);
        TreeSet<String> expected = new TreeSet<>();
        JSON.readTree(FIX.resolve("names_config.json").toFile()).fieldNames().forEachRemaining(expected::add);
        assertEquals(686, expected.size());
        assertEquals(expected, new TreeSet<>(net.parameterNames()));
    }

    @Test
    void rejectsWhatItDoesNotSupportNamingTheKey() throws Exception {
        JsonNode cases = JSON.readTree(FIX.resolve("rejected.json").toFile());
        assertTrue(cases.size() >= 10);
        for (JsonNode c : cases) {
            String key = c.get("key").asText();
            BadInputException e = assertThrows(BadInputException.class,
                    () -> UNetConfig.parse(c.get("config").toString(), "bad.json"), key);
            assertTrue(e.getMessage().contains("\"" + key + "\"") && e.getMessage().contains("bad.json"),
                    e.getMessage());
        }
        assertThrows(BadInputException.class, () -> UNetConfig.parse("[1]", "x.json"));
        assertThrows(BadInputException.class, () -> UNetConfig.parse("{\"in_channels\": \"4\"}", "x.json"));
        assertThrows(BadInputException.class, () -> UNetConfig.parse("{\"layers_per_block\": [1]}", "x.json"));
    }

    @Test
    void acceptsKeysThatDoNotChangeTheNetwork() {
        String json = "{\"_class_name\": \"UNet2DConditionModel\", \"_name_or_path\": \"x\", \"sample_size\": 64,"
                + " \"upcast_attention\": true, \"dropout\": 0.0, \"transformer_layers_per_block\": [1, 1, 1, 1],"
                + " \"only_cross_attention\": [false, false, false, false], \"resnet_skip_time_act\": true,"
                + " \"num_attention_heads\": null, \"conv_in_kernel\": 3, \"addition_embed_type_num_heads\": 64}";
        UNetConfig c = UNetConfig.parse(json, "ok.json");
        assertEquals(Integer.valueOf(64), c.sampleSize());
    }

    @Test
    void inputsAreChecked() {
        UNet net = UNet.build(UNetConfig.read(Path.of("configuration/unet/tiny.json")), DataType.FLOAT, 3);
        INDArray ehs = org.nd4j.linalg.factory.Nd4j.zeros(2, 3, 32);
        INDArray t = org.nd4j.linalg.factory.Nd4j.createFromArray(5L, 7L);
        assertThrows(BadInputException.class,
                () -> net.placeholders(org.nd4j.linalg.factory.Nd4j.zeros(2, 8, 6, 5), t, ehs));
        assertThrows(BadInputException.class,
                () -> net.placeholders(org.nd4j.linalg.factory.Nd4j.zeros(2, 8, 6, 4), t,
                        org.nd4j.linalg.factory.Nd4j.zeros(2, 3, 16)));
        INDArray out = net.forward(org.nd4j.linalg.factory.Nd4j.rand(DataType.FLOAT, 2, 8, 6, 4),
                org.nd4j.linalg.factory.Nd4j.createFromArray(3L), ehs);
        assertArrayEquals(new long[] {2, 4, 6, 4}, out.shape());
    }

}
