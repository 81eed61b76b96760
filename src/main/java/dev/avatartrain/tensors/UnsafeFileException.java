package dev.avatartrain.tensors;

import dev.avatartrain.errors.BadInputException;

/**
 * A file asks for something a tensor file never needs and that could run code or escape its folder: a pickle
 * global outside the allowed set, an object-building opcode, a zip member with a path outside the archive.
 * Nothing of the file is executed; the message names the file and what was refused.
 */
public final class UnsafeFileException extends BadInputException {
    public UnsafeFileException(String message) {
        super(message);
    }
}
