package dev.avatartrain.hub;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import dev.avatartrain.models.taesd.Taesd;
import dev.avatartrain.models.taesd.TaesdSource;
import dev.avatartrain.tensors.Safetensors;

/** Weights named by a repo id on a fresh machine: downloaded from a loopback hub, then loaded by the product. */
class WeightsFromHubTest {
    @TempDir
    Path dir;

    @AfterEach
    void clear() {
        System.clearProperty("HF_ENDPOINT");
        System.clearProperty("HF_HOME");
    }

    private static Map<String, INDArray> weights(Taesd.Model m) {
        return new LinkedHashMap<>(m.parameters());
    }

    @Test
    void diffusersTaesdIsDownloadedFromTheHubAndEncodesLikeTheServedWeights() throws Exception {
        Taesd.Model enc = Taesd.encoder(new Taesd.Config(4, false), DataType.FLOAT, 7);
        Taesd.Model dec = Taesd.decoder(new Taesd.Config(4, false), DataType.FLOAT, 8);
        Map<String, INDArray> both = new LinkedHashMap<>(Taesd.toDiffusers(weights(enc), true));
        both.putAll(Taesd.toDiffusers(weights(dec), false));
        Path file = dir.resolve("served.safetensors");
        Safetensors.write(file, both, Map.of());

        try (HubServer server = new HubServer("127.0.0.1")) {
            server.put("madebyollin/taesd", "main", "diffusion_pytorch_model.safetensors", Files.readAllBytes(file));
            System.setProperty("HF_ENDPOINT", server.url());
            System.setProperty("HF_HOME", dir.resolve("hf").toString());
            TaesdSource src = TaesdSource.resolve("madebyollin/taesd", dir.resolve("vae-cache"), null);
            assertEquals(dir.resolve("hf/hub/models--madebyollin--taesd/snapshots/main/diffusion_pytorch_model.safetensors"), src.encoderFile());
            INDArray images = Nd4j.rand(DataType.FLOAT, 1, 3, 32, 32);
            INDArray expected = enc.encode(images);
            INDArray got = src.encoder().encode(images);
            assertTrue(expected.equalsWithEps(got, 1e-5), "the downloaded weights encode as the served ones");
            assertTrue(src.key().startsWith("taesd-"));
            // a second run needs no download
            long gets = server.requests.stream().filter(r -> r.method().equals("GET")).count();
            assertEquals(src.key(), TaesdSource.resolve("madebyollin/taesd", dir.resolve("vae-cache"), null).key());
            assertEquals(gets, server.requests.stream().filter(r -> r.method().equals("GET")).count());
            List<String> paths = server.requests.stream().map(HubServer.Request::path).distinct().toList();
            assertEquals(List.of("madebyollin/taesd/resolve/main/diffusion_pytorch_model.safetensors"), paths);

            // forward takes the same bare repo id: the encoder's usual file in it
            Path in = dir.resolve("images.safetensors");
            Safetensors.write(in, Map.of("images", images), Map.of());
            assertEquals(0, dev.avatartrain.cli.Main.run("forward", "--model", "taesd-encoder", "--weights", "madebyollin/taesd",
                    "--input", in.toString(), "--output", dir.resolve("latents.safetensors").toString()));
            assertTrue(expected.equalsWithEps(Safetensors.read(dir.resolve("latents.safetensors")).tensors().get("out"), 1e-5));
        }
    }

    @Test
    void forwardWeightsFromARepoFileGiveTheSameOutputAsTheLocalFile() throws Exception {
        Nd4j.getRandom().setSeed(1);
        Path in = dir.resolve("in.safetensors");
        Safetensors.write(in, Map.of("sample", Nd4j.randn(DataType.FLOAT, 1, 8, 4, 4), "timestep", Nd4j.createFromArray(3f),
                "encoder_hidden_states", Nd4j.randn(DataType.FLOAT, 1, 5, 32)), Map.of());
        Path w = dir.resolve("w.safetensors");
        assertEquals(0, dev.avatartrain.cli.Main.run("forward", "--model", "unet", "--config", "configuration/unet/tiny.json",
                "--input", in.toString(), "--output", dir.resolve("a.safetensors").toString(), "--save-weights", w.toString(), "--seed", "5"));
        try (HubServer server = new HubServer("127.0.0.1")) {
            server.hubHeaders = true;
            server.commit = "89abcdef0123456789abcdef0123456789abcdef";
            server.put("owner/tiny-unet", "v2", "unet/w.safetensors", Files.readAllBytes(w));
            System.setProperty("HF_ENDPOINT", server.url());
            System.setProperty("HF_HOME", dir.resolve("hf").toString());
            assertEquals(0, dev.avatartrain.cli.Main.run("forward", "--model", "unet", "--config", "configuration/unet/tiny.json",
                    "--weights", "owner/tiny-unet@v2:unet/w.safetensors", "--input", in.toString(), "--output", dir.resolve("b.safetensors").toString()));
            assertEquals(Safetensors.read(dir.resolve("a.safetensors")).tensors().get("out"), Safetensors.read(dir.resolve("b.safetensors")).tensors().get("out"));
            // a bare repo id, owner/name@rev and a subfolder: diffusers' file name, as UNet2DConditionModel.from_pretrained finds it
            server.put("owner/tiny-unet", "main", "diffusion_pytorch_model.safetensors", Files.readAllBytes(w));
            server.put("owner/tiny-unet", "v2", "unet/diffusion_pytorch_model.safetensors", Files.readAllBytes(w));
            for (String spec : List.of("owner/tiny-unet", "owner/tiny-unet@v2:unet")) {
                Path o = dir.resolve("c-" + spec.hashCode() + ".safetensors");
                assertEquals(0, dev.avatartrain.cli.Main.run("forward", "--model", "unet", "--config", "configuration/unet/tiny.json",
                        "--weights", spec, "--input", in.toString(), "--output", o.toString()), spec);
                assertEquals(Safetensors.read(dir.resolve("a.safetensors")).tensors().get("out"), Safetensors.read(o).tensors().get("out"), spec);
            }
            assertEquals(2, dev.avatartrain.cli.Main.run("forward", "--model", "unet", "--config", "configuration/unet/tiny.json",
                    "--weights", "owner/tiny-unet@v2:unet/missing.safetensors", "--input", in.toString(), "--output", dir.resolve("c.safetensors").toString()),
                    "a missing repo file is a bad-input error");
        }
    }
}
