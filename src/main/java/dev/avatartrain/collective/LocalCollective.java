package dev.avatartrain.collective;

import java.nio.FloatBuffer;

/**
 * The collective of a job with one rank: every operation leaves its data as it is (the sum over one rank) and moves
 * no bytes. Lets the engine run one worker without sockets.
 */
public final class LocalCollective implements Collective {

    @Override
    public int rank() {
        return 0;
    }

    @Override
    public int size() {
        return 1;
    }

    @Override
    public void allReduce(FloatBuffer data) {
        FloatBuffers.check(data);
    }

    @Override
    public void reduceScatter(FloatBuffer data) {
        FloatBuffers.check(data);
    }

    @Override
    public void allGather(FloatBuffer data) {
        FloatBuffers.check(data);
    }

    @Override
    public void allReduce(double[] values) {
    }

    @Override
    public void barrier() {
    }

    @Override
    public long bytesSent() {
        return 0;
    }

    @Override
    public long bytesReceived() {
        return 0;
    }

    @Override
    public void close() {
    }
}
