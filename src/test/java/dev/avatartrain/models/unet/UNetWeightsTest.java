package dev.avatartrain.models.unet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.storage.S3Proxy;
import dev.avatartrain.tensors.Safetensors;
import dev.avatartrain.tensors.TorchWriter;

/**
 * {@code model.unet_pretrained_model_name_or_path}: every accepted layout loads the same values, and every bad case (missing,
 * unexpected, mis-shaped tensor; a folder's config that disagrees with unet_config_file; an incomplete folder) is an error naming
 * the tensor, its shapes or the files.
 */
class UNetWeightsTest {
    static final Path TINY = Path.of("configuration/unet/tiny.json");

    static UNet tiny(long seed) {
        return UNet.build(UNetConfig.read(TINY), DataType.FLOAT, seed);
    }

    private static void assertSameWeights(UNet a, UNet b) {
        a.parameters().forEach((n, x) -> assertEquals(x, b.parameters().get(n), n));
    }

    @Test
    void everyLayoutLoadsTheSameValues(@TempDir Path dir) throws Exception {
        UNet src = tiny(1);
        Map<String, INDArray> w = src.export(DataType.FLOAT);
        Map<String, INDArray> prefixed = new LinkedHashMap<>();
        w.forEach((n, a) -> prefixed.put("unet." + n, a));
        Safetensors.write(dir.resolve("plain.safetensors"), w, Map.of());
        Safetensors.write(dir.resolve("prefixed.safetensors"), prefixed, Map.of());
        TorchWriter.writeStateDict(dir.resolve("weights.bin"), w);
        TorchWriter.writeStateDict(dir.resolve("prefixed.pth"), prefixed);
        Path musetalk = Files.createDirectories(dir.resolve("musetalk"));
        Files.copy(TINY, musetalk.resolve("musetalk.json"));
        TorchWriter.writeStateDict(musetalk.resolve("pytorch_model.bin"), w);
        Path diffusersBin = Files.createDirectories(dir.resolve("diffusers-bin"));
        Files.copy(TINY, diffusersBin.resolve("config.json"));
        TorchWriter.writeStateDict(diffusersBin.resolve("diffusion_pytorch_model.bin"), w);
        for (String s : new String[] {"plain.safetensors", "prefixed.safetensors", "weights.bin", "prefixed.pth", "musetalk", "diffusers-bin"}) {
            UNetWeights.Source source = UNetWeights.locate(dir.resolve(s).toString(), dir.resolve("cache"), null, null);
            UNet net = tiny(2);
            UNetWeights.load(net, UNetWeights.read(source.weights()), s);
            assertSameWeights(src, net);
        }
        UNetWeights.Source m = UNetWeights.locate(musetalk.toString(), dir, null, null);
        assertEquals("musetalk", m.layout());
        assertEquals("musetalk", m.positionalEncoding(), "MuseTalk's own folders are used with its encoding");
        assertEquals(UNetConfig.read(TINY), m.config());
        assertNull(UNetWeights.locate(dir.resolve("plain.safetensors").toString(), dir, null, null).positionalEncoding());
    }

    @Test
    void fromAStorageUrl(@TempDir Path dir) throws Exception {
        UNet src = tiny(3);
        try (S3Proxy s3 = new S3Proxy(dir.resolve("s3"))) {
            Path bucket = s3.createBucket("weights");
            Path folder = Files.createDirectories(bucket.resolve("musetalk"));
            Files.copy(TINY, folder.resolve("musetalk.json"));
            TorchWriter.writeStateDict(folder.resolve("pytorch_model.bin"), src.export(DataType.FLOAT));
            org.apache.hadoop.conf.Configuration conf = new org.apache.hadoop.conf.Configuration();
            s3.s3aSettings().forEach(conf::set);
            UNetWeights.Source source = UNetWeights.locate("s3a://weights/musetalk", dir.resolve("cache"), conf, null);
            assertEquals("musetalk", source.layout());
            UNet net = tiny(4);
            UNetWeights.load(net, UNetWeights.read(source.weights()), "s3a://weights/musetalk");
            assertSameWeights(src, net);
        }
    }

    @Test
    void strictLoadingNamesEveryTensorWithItsShapes() {
        Map<String, INDArray> w = tiny(1).export(DataType.FLOAT);
        Map<String, INDArray> bad = new LinkedHashMap<>(w);
        bad.remove("conv_in.weight");
        bad.put("conv_out.bias", Nd4j.zeros(DataType.FLOAT, 5));
        bad.put("extra.weight", Nd4j.zeros(DataType.FLOAT, 2, 3));
        BadInputException e = assertThrows(BadInputException.class, () -> UNetWeights.load(tiny(2), bad, "released.bin"));
        String m = e.getMessage();
        assertTrue(m.startsWith("released.bin"), m);
        assertTrue(m.contains("1 missing: conv_in.weight (expected [32, 8, 3, 3])"), m);
        assertTrue(m.contains("1 unexpected: extra.weight [2, 3]"), m);
        assertTrue(m.contains("1 wrong shape: conv_out.bias is [5], expected [4]"), m);
        UNet untouched = tiny(2);
        assertEquals(tiny(2).parameters().get("conv_out.bias"), untouched.parameters().get("conv_out.bias"));
    }

    @Test
    void aFoldersConfigMustAgreeWithUnetConfigFile(@TempDir Path dir) throws Exception {
        Path musetalk = Files.createDirectories(dir.resolve("m"));
        Files.writeString(musetalk.resolve("musetalk.json"), Files.readString(TINY).replace("\"layers_per_block\": 1", "\"layers_per_block\": 2"));
        TorchWriter.writeStateDict(musetalk.resolve("pytorch_model.bin"), tiny(1).export(DataType.FLOAT));
        UNetWeights.Source s = UNetWeights.locate(musetalk.toString(), dir, null, null);
        BadInputException e = assertThrows(BadInputException.class, () -> UNetWeights.chooseConfig(s, UNetConfig.read(TINY), TINY.toString()));
        assertTrue(e.getMessage().contains("describe different UNets") && e.getMessage().contains("musetalk.json"), e.getMessage());
        assertEquals(s.config(), UNetWeights.chooseConfig(s, null, null), "unset unet_config_file: the folder's config");
        // its weights (layers_per_block 1) against its own config (2): every missing tensor named
        UNet two = UNet.build(s.config(), DataType.FLOAT, 0);
        e = assertThrows(BadInputException.class, () -> UNetWeights.load(two, UNetWeights.read(s.weights()), s.weights().toString()));
        assertTrue(e.getMessage().contains("missing: ") && e.getMessage().contains("down_blocks.0.resnets.1."), e.getMessage());
        // a bare file needs unet_config_file
        Path file = dir.resolve("w.safetensors");
        Safetensors.write(file, tiny(1).export(DataType.FLOAT), Map.of());
        UNetWeights.Source bare = UNetWeights.locate(file.toString(), dir, null, null);
        e = assertThrows(BadInputException.class, () -> UNetWeights.chooseConfig(bare, null, null));
        assertTrue(e.getMessage().contains("unet_config_file"), e.getMessage());
    }

    @Test
    void incompleteOrUnknownFoldersAreNamed(@TempDir Path dir) throws Exception {
        Path m = Files.createDirectories(dir.resolve("half"));
        Files.copy(TINY, m.resolve("musetalk.json"));
        BadInputException e = assertThrows(BadInputException.class, () -> UNetWeights.locate(m.toString(), dir, null, null));
        assertTrue(e.getMessage().contains("pytorch_model.bin"), e.getMessage());
        Path d = Files.createDirectories(dir.resolve("diff"));
        Files.copy(TINY, d.resolve("config.json"));
        e = assertThrows(BadInputException.class, () -> UNetWeights.locate(d.toString(), dir, null, null));
        assertTrue(e.getMessage().contains("diffusion_pytorch_model.safetensors"), e.getMessage());
        Path other = Files.createDirectories(dir.resolve("other"));
        Files.writeString(other.resolve("notes.txt"), "x");
        e = assertThrows(BadInputException.class, () -> UNetWeights.locate(other.toString(), dir, null, null));
        assertTrue(e.getMessage().contains("notes.txt"), e.getMessage());
        e = assertThrows(BadInputException.class, () -> UNetWeights.locate(dir.resolve("nothing-here").toString(), dir, null, null));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }
}
