package dev.avatartrain.hub;

import dev.avatartrain.errors.BadInputException;

/** The hub answered 404 for a file (or its repo or revision); callers that try alternative file names catch it. */
public class HubFileNotFoundException extends BadInputException {
    public HubFileNotFoundException(String message) {
        super(message);
    }
}
