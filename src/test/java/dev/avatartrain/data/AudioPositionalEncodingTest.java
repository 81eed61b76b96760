package dev.avatartrain.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Path;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.tensors.Safetensors;

/** MuseTalk's audio positional encoding against fixtures of its formula re-stated in torch (src/test/scripts/make_pe_fixtures.py). */
class AudioPositionalEncodingTest {
    static final Path FIXTURE = Path.of("src/test/resources/fixtures/pe/musetalk_pe.safetensors");

    @Test
    void matchesTheTorchFormulaOnMuseTalksAndTheDemosShapes() {
        Map<String, INDArray> fx = Safetensors.read(FIXTURE, DataType.FLOAT).tensors();
        for (String c : new String[] {"50x384", "25x16"}) {
            INDArray x = fx.get(c + ".x");
            INDArray out = AudioPositionalEncoding.MUSETALK.apply(x);
            double maxDiff = Transforms.abs(out.sub(fx.get(c + ".out"))).maxNumber().doubleValue();
            assertEquals(0.0, maxDiff, 1e-5, c); // a few float32 ulps: torch's vectorised sin/exp vs the JDK's
            assertSame(x, AudioPositionalEncoding.NONE.apply(x));
        }
    }

    @Test
    void namesAndLimits() {
        assertEquals(AudioPositionalEncoding.MUSETALK, AudioPositionalEncoding.of("musetalk"));
        assertEquals("none", AudioPositionalEncoding.of("none").configName());
        assertThrows(BadInputException.class, () -> AudioPositionalEncoding.of("rope"));
        assertThrows(BadInputException.class, () -> AudioPositionalEncoding.table(AudioPositionalEncoding.MAX_LEN + 1, 4));
    }
}
