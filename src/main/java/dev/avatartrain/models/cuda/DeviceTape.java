package dev.avatartrain.models.cuda;

import java.util.ArrayList;
import java.util.List;

/**
 * The record of one forward pass on the device, for reverse-mode differentiation, like the CPU backend's
 * {@link dev.avatartrain.models.kernels.Tape} but over gradient handles {@code G} of any kind (device buffers in the
 * backend, numbers in the tests): every op appends a backward step; {@link #backward} runs the steps newest first,
 * each once its output's gradient is complete (every user of a value was recorded after it, so ran before it), skips
 * steps whose output received no gradient, and releases each consumed gradient unless the step passed it on to an
 * input as that input's gradient (a reshape, one input of a sum: at most once; a second input gets a copy).
 * Parameters' gradients (leaves) are never released: the optimizer reads them.
 */
public final class DeviceTape<G> {
    /** How gradients add and are given back (to the stream-ordered pool in the backend). */
    public interface Gradients<G> {
        /** {@code a + b}, consuming both: what it does not return it releases (the backend adds into {@code a}). */
        G add(G a, G b);

        void release(G g);

        /** Whether {@code a} is {@code b} or a view of the same memory (a reshape passes its gradient on as a view). */
        default boolean same(G a, G b) {
            return a == b;
        }
    }

    /** A step's backward pass: turns its output's gradient into its inputs' ({@link #accumulate}). */
    @FunctionalInterface
    public interface Step<G> {
        void backward(G outputGradient);
    }

    /** A value of the pass: it has a gradient after {@link #backward} when it needs one. */
    public static final class Node<G> {
        private final boolean needsGrad;
        private G grad;

        private Node(boolean needsGrad) {
            this.needsGrad = needsGrad;
        }

        public boolean needsGrad() {
            return needsGrad;
        }

        /** The gradient collected so far (the final one after {@link #backward}), or null. */
        public G grad() {
            return grad;
        }
    }

    private record Recorded<G>(String op, Node<G> out, Step<G> step) {}

    private final Gradients<G> gradients;
    private final boolean record;
    private final List<Recorded<G>> steps = new ArrayList<>();
    private final List<String> ran = new ArrayList<>();
    /** The output gradient of the step running now, and whether the step gave it to an input. */
    private G current;
    private boolean currentPassedOn;

    /** @param record false for inference: nothing is recorded */
    public DeviceTape(Gradients<G> gradients, boolean record) {
        this.gradients = gradients;
        this.record = record;
    }

    /** A trainable leaf (a parameter): its gradient is collected and kept. */
    public Node<G> parameter() {
        return new Node<>(record);
    }

    /** A leaf without gradient (inputs, frozen weights). */
    public Node<G> constant() {
        return new Node<>(false);
    }

    /** The output of op {@code name} on {@code inputs}, with its backward step (recorded only when it needs one). */
    @SafeVarargs
    public final Node<G> record(String name, Step<G> step, Node<G>... inputs) {
        boolean needs = false;
        for (Node<G> in : inputs) {
            needs |= in != null && in.needsGrad;
        }
        Node<G> out = new Node<>(needs);
        if (record && needs) {
            steps.add(new Recorded<>(name, out, step));
        }
        return out;
    }

    /**
     * Gives {@code g} to {@code to}'s gradient (added to what it has; released if {@code to} needs none). A step may
     * give its own output gradient away like this once.
     */
    public void accumulate(Node<G> to, G g) {
        if (current != null && gradients.same(g, current)) {
            if (currentPassedOn) {
                throw new IllegalStateException("a backward step passed its output gradient on twice; copy it for "
                        + "the second input");
            }
            currentPassedOn = to != null && to.needsGrad;
            if (!currentPassedOn) {
                return; // the tape releases it after the step
            }
        }
        if (to == null || !to.needsGrad) {
            gradients.release(g);
            return;
        }
        to.grad = to.grad == null ? g : gradients.add(to.grad, g);
    }

    /** Runs the backward steps from {@code root} with upstream gradient {@code seed} (consumed like any other). */
    public void backward(Node<G> root, G seed) {
        if (!record) {
            throw new IllegalStateException("backward on a tape that did not record");
        }
        ran.clear();
        accumulate(root, seed);
        for (int i = steps.size() - 1; i >= 0; i--) {
            Recorded<G> r = steps.set(i, null);
            G dy = r.out.grad;
            if (dy == null) {
                continue;
            }
            r.out.grad = null;
            current = dy;
            currentPassedOn = false;
            try {
                r.step.backward(dy);
            } finally {
                current = null;
            }
            ran.add(r.op);
            if (!currentPassedOn) {
                gradients.release(dy);
            }
        }
        steps.clear();
    }

    /** The ops whose backward steps the last {@link #backward} ran, in the order it ran them. */
    public List<String> lastOrder() {
        return List.copyOf(ran);
    }
}
