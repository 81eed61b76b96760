package dev.avatartrain.train;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

import dev.avatartrain.storage.Storage;

/**
 * Run in a child JVM by {@link TrainRunOwnershipTest}: writes one large checkpoint through {@link Checkpoints#write}
 * (args: output folder, step, float count) so that the test can kill the process in the middle of the write.
 */
public final class InterruptedCheckpointWrite {
    private InterruptedCheckpointWrite() {}

    public static void main(String[] args) throws Exception {
        Storage out = Storage.forUrl(Path.of(args[0]).toString(), null);
        Map<String, org.nd4j.linalg.api.ndarray.INDArray> big = new LinkedHashMap<>();
        big.put("big", Nd4j.ones(DataType.FLOAT, Long.parseLong(args[2])));
        ModelState params = ModelState.of(big, ModelState.DEFAULT_CHUNK_FLOATS);
        System.out.println("writing");
        System.out.flush();
        new Checkpoints(out, 3, "killed").write(new Checkpoints.State(Long.parseLong(args[1]), 1, 1, "h", "net", Map.of()), params);
        System.out.println("finished");
    }
}
