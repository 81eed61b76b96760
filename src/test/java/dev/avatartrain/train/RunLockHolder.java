package dev.avatartrain.train;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.storage.Storage;

/**
 * Run in a child JVM by {@link RunLockTest}: takes the run lock of an output folder (args: folder), prints "held" and
 * keeps it until killed or until its standard input closes; prints "refused: <message>" and exits 3 when refused.
 */
public final class RunLockHolder {
    private RunLockHolder() {}

    public static void main(String[] args) throws Exception {
        Storage out = Storage.forUrl(args[0], null);
        try (RunLock lock = RunLock.acquire(out, "train")) {
            System.out.println("held");
            System.out.flush();
            while (System.in.read() >= 0) {
                // wait for the parent to close our input (or kill us)
            }
        } catch (BadInputException e) {
            System.out.println("refused: " + e.getMessage());
            System.out.flush();
            System.exit(3);
        }
    }
}
