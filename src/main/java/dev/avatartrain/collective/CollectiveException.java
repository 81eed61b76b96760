package dev.avatartrain.collective;

/**
 * A collective failed: a peer did not connect or answer within the time-out, closed its connection, or sent what
 * the protocol does not expect. The message names the peer's rank and address and what happened; the collective
 * that threw it is closed.
 */
public class CollectiveException extends RuntimeException {

    public CollectiveException(String message) {
        super(message);
    }

    public CollectiveException(String message, Throwable cause) {
        super(message, cause);
    }
}
