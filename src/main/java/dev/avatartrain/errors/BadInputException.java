package dev.avatartrain.errors;

/**
 * A problem with input the user controls: a file, a configuration key, a command-line value.
 * The message is a complete sentence naming the file, key or value and what is wrong or allowed;
 * the CLI prints it as is and exits with status 2.
 */
public class BadInputException extends RuntimeException {
    public BadInputException(String message) {
        super(message);
    }

    public BadInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
