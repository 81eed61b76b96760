package dev.avatartrain.models.nn;

import java.util.List;

/**
 * A network's computation, written once against {@link Ops}: the forward pass from its named inputs to its output,
 * and each training loss of that output. Both run unchanged on every backend, and once more at construction to
 * declare the parameters.
 */
public interface Definition {
    /** The name of the forward pass's output. */
    String output();

    /** The forward pass; reads its inputs with {@link Ops#input}. */
    <T> T forward(Ops<T> nn);

    /** The names of the losses {@link #loss} computes (none for a network used only forward). */
    default List<String> losses() {
        return List.of();
    }

    /** The scalar loss {@code name} of the output {@code out}; reads targets with {@link Ops#input}. */
    default <T> T loss(Ops<T> nn, String name, T out) {
        throw new IllegalArgumentException("no loss " + name);
    }
}
