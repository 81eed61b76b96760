package dev.avatartrain.collective;

import java.io.IOException;
import java.nio.channels.SocketChannel;

/** One connection to another rank, named for the messages: "rank 2 at 10.0.0.7:41234". */
record Peer(int rank, String address, SocketChannel channel) {

    String name() {
        return "rank " + rank + " at " + address;
    }

    void closeQuietly() {
        try {
            channel.close();
        } catch (IOException e) {
            // closing is best effort: the peer may already be gone
        }
    }
}
