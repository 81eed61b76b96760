package dev.avatartrain.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import dev.avatartrain.tensors.Safetensors;

/** `forward` on real files: random weights saved and reloaded give the same output; bad inputs name the file. */
class ForwardCommandTest {
    @Test
    void unetWithSavedRandomWeightsReproducesItsOutput(@TempDir Path dir) throws Exception {
        Nd4j.getRandom().setSeed(1);
        Path in = dir.resolve("in.safetensors");
        Safetensors.write(in, Map.of("sample", Nd4j.randn(DataType.FLOAT, 1, 8, 4, 4), "timestep", Nd4j.createFromArray(3f),
                "encoder_hidden_states", Nd4j.randn(DataType.FLOAT, 1, 5, 32)), Map.of());
        Path w = dir.resolve("w.safetensors");
        assertEquals(0, Main.run("forward", "--model", "unet", "--config", "configuration/unet/tiny.json", "--input", in.toString(),
                "--output", dir.resolve("a.safetensors").toString(), "--save-weights", w.toString(), "--seed", "5"));
        assertEquals(0, Main.run("forward", "--model", "unet", "--config", "configuration/unet/tiny.json", "--weights", w.toString(),
                "--input", in.toString(), "--output", dir.resolve("b.safetensors").toString()));
        INDArray a = Safetensors.read(dir.resolve("a.safetensors")).tensors().get("out");
        INDArray b = Safetensors.read(dir.resolve("b.safetensors")).tensors().get("out");
        assertArrayEquals(new long[]{1, 4, 4, 4}, a.shape());
        assertEquals(a, b);
        // --audio-positional-encoding musetalk: the same as adding the encoding to the input by hand
        INDArray audio = Safetensors.read(in).tensors().get("encoder_hidden_states");
        Path in2 = dir.resolve("in2.safetensors");
        Safetensors.write(in2, Map.of("sample", Safetensors.read(in).tensors().get("sample"), "timestep", Nd4j.createFromArray(3f),
                "encoder_hidden_states", dev.avatartrain.data.AudioPositionalEncoding.MUSETALK.apply(audio)), Map.of());
        assertEquals(0, Main.run("forward", "--model", "unet", "--config", "configuration/unet/tiny.json", "--weights", w.toString(),
                "--input", in.toString(), "--audio-positional-encoding", "musetalk", "--output", dir.resolve("c.safetensors").toString()));
        assertEquals(0, Main.run("forward", "--model", "unet", "--config", "configuration/unet/tiny.json", "--weights", w.toString(),
                "--input", in2.toString(), "--output", dir.resolve("d.safetensors").toString()));
        INDArray c = Safetensors.read(dir.resolve("c.safetensors")).tensors().get("out");
        assertEquals(Safetensors.read(dir.resolve("d.safetensors")).tensors().get("out"), c);
        org.junit.jupiter.api.Assertions.assertNotEquals(a, c);
    }

    @Test
    void adapterAndTaesdRunAndAMissingInputIsNamed(@TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("adapter.json");
        Files.writeString(cfg, "{\"audio_window\": 3, \"vae_scale\": 2, \"blocks\": 2, \"channels\": 4, \"intermediate_dim\": 8,"
                + " \"context_tokens\": 2, \"output_dim\": 4, \"norm_output_audio\": true}");
        Path in = dir.resolve("in.safetensors");
        Safetensors.write(in, Map.of("audio_embeds", Nd4j.rand(DataType.FLOAT, 7, 2, 4), "images", Nd4j.rand(DataType.FLOAT, 1, 3, 16, 16)),
                Map.of());
        assertEquals(0, Main.run("forward", "--model", "audio-adapter", "--config", cfg.toString(), "--input", in.toString(), "--output",
                dir.resolve("t.safetensors").toString()));
        assertArrayEquals(new long[]{4, 2, 4}, Safetensors.read(dir.resolve("t.safetensors")).tensors().get("out").shape());
        assertEquals(0, Main.run("forward", "--model", "taesd-encoder", "--input", in.toString(), "--output",
                dir.resolve("l.safetensors").toString()));
        assertArrayEquals(new long[]{1, 4, 2, 2}, Safetensors.read(dir.resolve("l.safetensors")).tensors().get("out").shape());
        assertEquals(Main.EXIT_BAD_INPUT, Main.run("forward", "--model", "taesd-decoder", "--input", in.toString(), "--output",
                dir.resolve("x.safetensors").toString()));
        assertTrue(!Files.exists(dir.resolve("x.safetensors")));
    }
}
