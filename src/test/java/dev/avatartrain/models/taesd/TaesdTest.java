package dev.avatartrain.models.taesd;

import static dev.avatartrain.models.nn.Parity.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.tensors.Npy;
import dev.avatartrain.tensors.Npz;
import dev.avatartrain.tensors.Safetensors;
import dev.avatartrain.tensors.TorchFiles;
import dev.avatartrain.models.nn.Backend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** TAESD parity with taesd.py (fixtures from src/test/scripts/make_network_fixtures.py). */
class TaesdTest {
    static Map<String, INDArray> fixture(String name) {
        Map<String, INDArray> out = new LinkedHashMap<>();
        for (Map.Entry<String, Npy.NpyArray> e : Npz.read(Path.of("src/test/resources/fixtures/taesd/" + name)).entrySet()) {
            out.put(e.getKey(), e.getValue().toINDArray(DataType.FLOAT));
        }
        return out;
    }

    /** The script's det_fill: scale * sin(0.37 i + k), k = sum of the name's chars mod 101; norm weights + 1. */
    static Map<String, INDArray> deterministicWeights(Taesd.Model m) {
        Map<String, INDArray> w = new LinkedHashMap<>();
        for (Map.Entry<String, INDArray> e : m.parameters().entrySet()) {
            String name = e.getKey();
            long[] shape = e.getValue().shape();
            int k = name.chars().sum() % 101;
            long n = e.getValue().length();
            double scale = shape.length >= 2 ? 1.0 / Math.sqrt((double) (n / shape[0])) : 0.1;
            double[] v = new double[(int) n];
            for (int i = 0; i < n; i++) {
                v[i] = scale * Math.sin(0.37 * i + k) + (shape.length == 1 && name.endsWith("weight") ? 1 : 0);
            }
            w.put(name, Nd4j.create(v, shape, DataType.DOUBLE).castTo(DataType.FLOAT));
        }
        return w;
    }

    void checkSynthetic(String file, int latent, boolean gn, Backend backend) {
        Map<String, INDArray> f = fixture(file);
        Taesd.Config cfg = new Taesd.Config(latent, gn);
        Map<String, INDArray> we = deterministicWeights(Taesd.encoder(cfg, DataType.FLOAT, 1, backend));
        Map<String, INDArray> wd = deterministicWeights(Taesd.decoder(cfg, DataType.FLOAT, 1, backend));
        Taesd.Model enc = Taesd.loadEncoder(we, "enc", DataType.FLOAT, backend);
        Taesd.Model dec = Taesd.loadDecoder(wd, "dec", DataType.FLOAT, backend);
        assertEquals(backend, enc.backend());
        assertEquals(cfg, enc.config());
        assertEquals(cfg, dec.config());
        assertClose(f.get("latent"), enc.encode(f.get("image")), 1e-4, file + " latent");
        assertClose(f.get("decoded"), dec.decode(f.get("latent_in")), 1e-4, file + " decoded");
        if (!gn) {
            // the diffusers AutoencoderTiny names (proven equivalent by the fixture script) load the same network
            Map<String, INDArray> both = new LinkedHashMap<>(Taesd.toDiffusers(we, true));
            both.putAll(Taesd.toDiffusers(wd, false));
            assertTrue(both.containsKey("decoder.layers.0.weight"));
            assertClose(f.get("latent"), Taesd.loadEncoder(both, "ae", DataType.FLOAT, backend).encode(f.get("image")),
                    1e-4, "diffusers layout latent");
            assertClose(f.get("decoded"), Taesd.loadDecoder(both, "ae", DataType.FLOAT, backend).decode(f.get("latent_in")),
                    1e-4, "diffusers layout decoded");
            // and through a diffusers-style fp16 safetensors file holding both halves
            Map<String, INDArray> half = new LinkedHashMap<>();
            both.forEach((k, v) -> half.put(k, v.castTo(DataType.HALF)));
            try {
                Path tmp = Files.createTempFile("taesd", ".safetensors");
                try {
                    Safetensors.write(tmp, half, Map.of());
                    assertClose(f.get("latent"), Taesd.loadEncoder(tmp, DataType.FLOAT).encode(f.get("image")),
                            2e-3, "fp16 safetensors latent");
                } finally {
                    Files.deleteIfExists(tmp);
                }
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void taesdFourChannelsMatchesTaesdPy(Backend backend) {
        checkSynthetic("synthetic_c4.npz", 4, false, backend);
    }

    @ParameterizedTest
    @EnumSource(Backend.class)
    void midBlockGroupNormVariantMatchesTaesdPy(Backend backend) {
        checkSynthetic("synthetic_c16_gn.npz", 16, true, backend);
    }

    @Test
    void rejectsWeightsThatAreNotTaesd() {
        BadInputException e = assertThrows(BadInputException.class,
                () -> Taesd.loadEncoder(Map.of("x.weight", Nd4j.ones(2)), "w.pth", DataType.FLOAT));
        assertTrue(e.getMessage().contains("w.pth"), e.getMessage());
        Map<String, INDArray> w = deterministicWeights(Taesd.encoder(new Taesd.Config(4, false), DataType.FLOAT, 1));
        w.remove("5.conv.2.bias");
        e = assertThrows(BadInputException.class, () -> Taesd.loadEncoder(w, "w.pth", DataType.FLOAT));
        assertTrue(e.getMessage().contains("missing (5.conv.2.bias)"), e.getMessage());
    }

    @Test
    void latentScaling() {
        INDArray raw = Nd4j.createFromArray(-4f, 0f, 1.5f, 4f);
        assertEquals(Nd4j.createFromArray(0f, 0.5f, 0.75f, 1f), Taesd.scaleLatents(raw));
        assertEquals(Nd4j.createFromArray(-3f, 0f, 1.5f, 3f), Taesd.unscaleLatents(Nd4j.createFromArray(0f, 0.5f, 0.75f, 1f)));
    }

    /** The TAEF2 weights the demo ships (float16 torch.save): 32 latent channels, mid-block GroupNorm inferred. */
    @ParameterizedTest
    @EnumSource(Backend.class)
    void realTaef2MatchesPyTorch(Backend backend) {
        Path weights = dev.avatartrain.testing.Originals.PROJECT.resolve("configuration/demo/taef2");
        Map<String, INDArray> f = fixture("taef2_real.npz");
        Path encFile = weights.resolve("taef2_encoder.pth");
        Path decFile = weights.resolve("taef2_decoder.pth");
        Taesd.Model enc = Taesd.loadEncoder(TorchFiles.loadStateDict(encFile, DataType.FLOAT), encFile.toString(),
                DataType.FLOAT, backend);
        Taesd.Model dec = Taesd.loadDecoder(TorchFiles.loadStateDict(decFile, DataType.FLOAT), decFile.toString(),
                DataType.FLOAT, backend);
        assertEquals(new Taesd.Config(32, true), enc.config());
        assertEquals(new Taesd.Config(32, true), dec.config());
        INDArray z = enc.encode(f.get("image"));
        assertClose(f.get("latent"), z, 1e-4, "taef2 latent");
        assertClose(f.get("decoded"), dec.decode(f.get("latent")), 1e-4, "taef2 decoded");
    }
}
