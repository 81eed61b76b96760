package dev.avatartrain.models.adapter;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.avatartrain.models.nn.Backend;
import dev.avatartrain.models.nn.Parity;
import dev.avatartrain.tensors.Safetensors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * The adapter against a PyTorch AudioProjModel and windowing written from InfiniteTalk's source (fixtures from
 * src/test/scripts/make_adapter_fixtures.py): windowed batch equal exactly, output, masked weighted loss and every
 * parameter's gradient to 1e-4 relative.
 */
class AudioProjParityTest {
    static final Path DIR = Path.of("src/test/resources/fixtures/adapter");
    static final String[] CASES = {"w5_vs4_norm", "w3_vs2_plain", "w7_vs3_norm"};

    record Fixture(AudioProjConfig config, Map<String, INDArray> tensors) {
        Map<String, INDArray> weights() {
            Map<String, INDArray> w = new LinkedHashMap<>();
            tensors.forEach((k, v) -> {
                if (!k.startsWith("io.") && !k.startsWith("grad.")) {
                    w.put(k, v);
                }
            });
            return w;
        }

        List<INDArray> list(String prefix) {
            List<INDArray> out = new ArrayList<>();
            for (int i = 0; tensors.containsKey(prefix + i); i++) {
                out.add(tensors.get(prefix + i));
            }
            return out;
        }

        double[] exampleWeights() {
            return tensors.get("io.weight").castTo(DataType.DOUBLE).toDoubleVector();
        }

        AudioWindows.Batch batch(DataType dt) {
            return AudioWindows.batch(list("io.audio."), list("io.target."), exampleWeights(), config, dt);
        }
    }

    static Fixture fixture(String name) {
        Safetensors.SafetensorsFile f = Safetensors.read(DIR.resolve(name + ".safetensors"));
        return new Fixture(AudioProjConfig.parse(f.metadata().get("config"), name), f.tensors());
    }

    static AudioProjModel load(Fixture fx, Backend backend) {
        AudioProjModel net = AudioProjModel.build(fx.config(), DataType.FLOAT, 3, backend);
        net.load(fx.weights(), "fixture");
        return net;
    }

    @ParameterizedTest
    @ValueSource(strings = {"w5_vs4_norm", "w3_vs2_plain", "w7_vs3_norm"})
    void windowingEqualsTheOriginal(String name) {
        Fixture fx = fixture(name);
        AudioWindows.Batch b = fx.batch(DataType.FLOAT);
        assertEquals(fx.tensors().get("io.audio_embeds"), b.first(), "first-frame windows");
        assertEquals(fx.tensors().get("io.audio_embeds_vf"), b.later(), "later-frame windows");
        assertEquals(fx.tensors().get("io.mask"), b.mask(), "mask");
        assertEquals(fx.tensors().get("io.target"), b.target(), "padded target");
        List<INDArray> audios = fx.list("io.audio.");
        int[] frames = new int[audios.size()];
        for (int i = 0; i < frames.length; i++) {
            frames[i] = AudioWindows.outputFrames((int) audios.get(i).size(0), fx.config().vaeScale());
        }
        assertArrayEquals(frames, b.frames());
    }

    /** On both backends: the tape kernels (the default) and the SameDiff graph. */
    @ParameterizedTest
    @CsvSource({"w5_vs4_norm,TAPE", "w3_vs2_plain,TAPE", "w7_vs3_norm,TAPE", "w5_vs4_norm,GRAPH",
        "w3_vs2_plain,GRAPH", "w7_vs3_norm,GRAPH"})
    void matchesPyTorch(String name, Backend backend) {
        Fixture fx = fixture(name);
        AudioProjModel net = load(fx, backend);
        String what = name + " (" + backend + ")";
        Map<String, INDArray> ph = net.placeholders(fx.batch(DataType.FLOAT));
        Map<String, INDArray> out = net.forward(ph, AudioProjModel.OUT, AudioProjModel.LOSS);
        Parity.assertClose(fx.tensors().get("io.out"), out.get(AudioProjModel.OUT), 1e-4, what + " output");
        double loss = fx.tensors().get("io.loss").getDouble(0);
        assertEquals(loss, out.get(AudioProjModel.LOSS).getDouble(0), 1e-4 * loss, what + " loss");

        Map<String, INDArray> grads = net.gradients(ph, AudioProjModel.LOSS);
        assertEquals(net.parameterNames(), List.copyOf(grads.keySet()));
        for (String p : net.parameterNames()) {
            Parity.assertClose(fx.tensors().get("grad." + p), grads.get(p), 1e-4, what + " gradient of " + p);
        }
    }

    @ParameterizedTest
    @CsvSource({"w5_vs4_norm,TAPE", "w3_vs2_plain,TAPE", "w5_vs4_norm,GRAPH", "w3_vs2_plain,GRAPH"})
    void singleClipForwardIsTheBatchRowWithoutPadding(String name, Backend backend) {
        Fixture fx = fixture(name);
        AudioProjModel net = load(fx, backend);
        INDArray all = fx.tensors().get("io.out");
        List<INDArray> audios = fx.list("io.audio.");
        for (int i = 0; i < audios.size(); i++) {
            INDArray one = net.forward(audios.get(i));
            int n = AudioWindows.outputFrames((int) audios.get(i).size(0), fx.config().vaeScale());
            INDArray expected = all.get(org.nd4j.linalg.indexing.NDArrayIndex.point(i),
                    org.nd4j.linalg.indexing.NDArrayIndex.interval(0, n));
            Parity.assertClose(expected, one, 1e-4, name + " clip " + i);
        }
    }

    @org.junit.jupiter.api.Test
    void parameterNamesAndShapesArePyTorchs() {
        Fixture fx = fixture("w5_vs4_norm");
        AudioProjModel net = AudioProjModel.build(fx.config(), DataType.FLOAT, 1);
        Map<String, INDArray> w = fx.weights();
        assertEquals(List.copyOf(w.keySet()), net.parameterNames());
        for (Map.Entry<String, INDArray> e : net.parameters().entrySet()) {
            assertArrayEquals(w.get(e.getKey()).shape(), e.getValue().shape(), e.getKey());
        }
        AudioProjModel plain = AudioProjModel.build(fixture("w3_vs2_plain").config(), DataType.FLOAT, 1);
        assertEquals(List.of("proj1.weight", "proj1.bias", "proj1_vf.weight", "proj1_vf.bias", "proj2.weight",
                "proj2.bias", "proj3.weight", "proj3.bias"), plain.parameterNames());
    }
}
