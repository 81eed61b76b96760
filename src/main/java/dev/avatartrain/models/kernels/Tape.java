package dev.avatartrain.models.kernels;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

import org.nd4j.linalg.api.ndarray.INDArray;

import dev.avatartrain.tensors.NativeMemory;

/**
 * The record of one forward pass for reverse-mode differentiation: every operation in {@link Layers} appends the
 * closure that turns its output's gradient into its inputs' gradients, and {@link #backward} runs them newest first.
 * Closures hold only what their backward pass needs, and each is dropped once run, so memory falls as the backward
 * pass proceeds. A tape made with {@code record = false} keeps nothing (inference).
 *
 * <p>Memory is also handed back explicitly, not only when a collection finds it: once an operation's backward step
 * has run, every later operation's has too, so the operation's output value and the gradient it consumed are dead.
 * The step hands both back for reuse by the next kernel output of their size when a kernel allocated them
 * ({@link Buffers#release}), unless the output shares memory with an
 * input (a view), the gradient was passed on to an input, or either belongs to the root of {@link #backward} (its
 * value and the caller's gradient, which the caller still reads). Parameters, constants and their gradients are never
 * handed back. So after {@link #backward} only the root's value and the parameters' gradients of a pass are valid.
 */
public final class Tape {
    /** Backward steps between checks of the process's memory (a check reads /proc; a collection runs only when high). */
    private static final int MEMORY_CHECK_EVERY = 16;

    private final boolean record;
    private final List<Runnable> steps = new ArrayList<>();
    /** The root of the running {@link #backward} and the caller's gradient for it: never handed back. */
    private Var root;
    private INDArray rootGrad;
    /** Parameters by the step of their first use: once that step's backward pass ran, their gradient is final. */
    private final java.util.Map<Integer, List<Var>> finalAfter = new java.util.HashMap<>();
    private Consumer<Var> gradientFinal;

    public Tape(boolean record) {
        this.record = record;
    }

    /** A value of the pass and, after {@link #backward}, its gradient. */
    public static final class Var {
        private static final Var[] NONE = {};

        private final INDArray value;
        private final boolean needsGrad;
        private INDArray grad;
        private boolean gradOwned;
        /** The operation's inputs (none for parameters and constants). */
        private Var[] inputs = NONE;
        /** Whether the value shares memory with an input's (then it is never handed back here). */
        private boolean borrowed;
        /** A trainable parameter already registered under the step of its first use. */
        private boolean parameter;
        private boolean registered;

        private Var(INDArray value, boolean needsGrad) {
            this.value = value;
            this.needsGrad = needsGrad;
        }

        public INDArray value() {
            return value;
        }

        /** The accumulated gradient, or null if nothing depended on this value. */
        public INDArray grad() {
            return grad;
        }

        boolean needsGrad() {
            return needsGrad;
        }

        /**
         * Adds {@code g} to the gradient. {@code owned}: the caller gives {@code g} away; otherwise {@code g} may be
         * shared (an addition passes one gradient to both inputs) and is copied before anything is added to it.
         */
        void accumulate(INDArray g, boolean owned) {
            if (!needsGrad) {
                return;
            }
            if (grad == null) {
                grad = g;
                gradOwned = owned;
                return;
            }
            if (!gradOwned) {
                grad = grad.dup();
                gradOwned = true;
            }
            grad.addi(g);
            if (owned && !Buffers.sameMemory(grad, g)) {
                Buffers.release(g); // given away and added: dead
            }
        }

        /** Takes the gradient away (the producing operation's backward pass consumes it). */
        INDArray takeGrad() {
            INDArray g = grad;
            grad = null;
            return g;
        }
    }

    /** A trainable value: its gradient is collected. */
    public Var parameter(INDArray value) {
        Var v = new Var(value, record);
        v.parameter = true;
        return v;
    }

    /**
     * Tells {@code listener}, during {@link #backward}, each parameter whose gradient is final (no later backward step
     * adds to it), as soon as it is: the data-parallel engine reduces gradients while the backward pass goes on.
     * Parameters that got no gradient are not reported.
     */
    public void onGradientFinal(Consumer<Var> listener) {
        this.gradientFinal = listener;
    }

    /** A value without gradient (inputs, frozen weights). */
    public Var constant(INDArray value) {
        return new Var(value, false);
    }

    /** The output of an operation on {@code inputs}; needs a gradient when any input does. */
    Var result(INDArray value, Var... inputs) {
        boolean needs = false;
        boolean borrowed = false;
        for (Var v : inputs) {
            needs |= v != null && v.needsGrad;
            borrowed |= v != null && Buffers.sameMemory(value, v.value);
        }
        Var out = new Var(value, needs);
        out.inputs = inputs.clone();
        out.borrowed = borrowed;
        return out;
    }

    /**
     * Ends operation {@code name}'s forward pass (started at {@code t0} = {@link Profile#start()}) and records its
     * backward pass for {@code out}: {@code backward} gets the gradient {@code out} accumulated, and runs only when
     * there is one. Both are timed under {@code name} when profiling is on.
     */
    void onBackward(Var out, String name, long t0, Consumer<INDArray> backward) {
        Profile.end(name, " fwd", t0);
        if (record && out.needsGrad) {
            for (Var in : out.inputs) {
                if (in != null && in.parameter && !in.registered) {
                    in.registered = true;
                    finalAfter.computeIfAbsent(steps.size(), k -> new ArrayList<>()).add(in);
                }
            }
            steps.add(() -> {
                boolean owned = out.gradOwned;
                INDArray dy = out.takeGrad();
                if (dy != null) {
                    long t1 = Profile.start();
                    backward.accept(dy);
                    Profile.end(name, " bwd", t1);
                    if (owned && !passedOn(out, dy) && !Buffers.sameMemory(dy, rootGrad)) {
                        Buffers.release(dy);
                    }
                }
                if (out != root && !out.borrowed && (root == null || !Buffers.sameMemory(out.value, root.value))) {
                    Buffers.release(out.value);
                }
            });
        }
    }

    /** Whether the backward step of {@code out} handed {@code dy} (or a view of it) to an input as its gradient. */
    private static boolean passedOn(Var out, INDArray dy) {
        for (Var in : out.inputs) {
            if (in != null && Buffers.sameMemory(in.grad, dy)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Runs the recorded backward passes from {@code out} with upstream gradient {@code gradOut}, freeing what they
     * consumed (see the class comment): afterwards only {@code out}'s value and the parameters' gradients are valid.
     */
    public void backward(Var out, INDArray gradOut) {
        if (!record) {
            throw new IllegalStateException("backward on a tape that did not record");
        }
        root = out;
        rootGrad = gradOut;
        try {
            out.accumulate(gradOut, true);
            for (int i = steps.size() - 1; i >= 0; i--) {
                Runnable r = steps.set(i, null);
                r.run();
                List<Var> done = finalAfter.remove(i);
                if (done != null && gradientFinal != null) {
                    for (Var p : done) {
                        if (p.grad != null) {
                            gradientFinal.accept(p);
                        }
                    }
                }
                if (i % MEMORY_CHECK_EVERY == 0) {
                    NativeMemory.releaseGarbageIfHigh(); // closures' own arrays consumed so far are garbage now
                }
            }
        } finally {
            steps.clear();
            finalAfter.clear();
            root = null;
            rootGrad = null;
        }
    }

    /**
     * Hands the memory of a gradient {@link #backward} produced back to the kernels' pool, once its user (the optimizer,
     * the engine's exchange) is done with it: the next step's gradients of that size reuse it instead of fresh memory
     * (for the 74 M adapter 300 MB of page faults per step). No-op for memory the kernels did not allocate.
     */
    public static void recycle(INDArray gradient) {
        Buffers.release(gradient);
    }
}
