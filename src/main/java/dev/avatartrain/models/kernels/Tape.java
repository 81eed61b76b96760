package dev.avatartrain.models.kernels;

import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;
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
 *
 * <p>{@link #checkpoint} records a whole block as one operation that keeps only its inputs and reruns the block in
 * the backward pass (gradient checkpointing: activation memory of one block instead of all).
 */
public final class Tape {
    /** Backward steps between checks of the process's memory (a check reads /proc; a collection runs only when high). */
    private static final int MEMORY_CHECK_EVERY = 16;

    private final boolean record;
    private final List<Runnable> steps = new ArrayList<>();
    /** The results of a checkpointed block's first run (a non-recording tape), handed back once it has run. */
    private List<Var> made;
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

    /**
     * A trainable value whose gradient is added into {@code gradientSum} (same shape, written in place): gradient
     * accumulation over micro-batches without a second copy of the gradients.
     */
    public Var parameter(INDArray value, INDArray gradientSum) {
        Var v = new Var(value, record);
        if (record) {
            v.grad = gradientSum;
            v.gradOwned = true;
        }
        return v;
    }

    /** A value without gradient (inputs, frozen weights). */
    public Var constant(INDArray value) {
        return new Var(value, false);
    }

    /** The output of an operation on {@code inputs}; needs a gradient when any input does. */
    Var result(INDArray value, Var... inputs) {
        boolean needs = false;
        for (Var v : inputs) {
            needs |= v != null && v.needsGrad;
        }
        return result(value, needs, inputs);
    }

    private Var result(INDArray value, boolean needs, Var... inputs) {
        Var out = new Var(value, needs);
        out.inputs = inputs.clone();
        out.borrowed = sharesMemory(value, inputs);
        if (made != null) {
            made.add(out);
        }
        return out;
    }

    private static boolean sharesMemory(INDArray value, Var... vars) {
        for (Var v : vars) {
            if (v != null && Buffers.sameMemory(value, v.value)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Gradient checkpointing of one block (as {@code torch.utils.checkpoint}): {@code block} computes the block's
     * output from {@code inputs} on the tape it is given. On a recording tape it runs first on a tape that records
     * nothing, and its intermediate values are handed back at once: this tape keeps only the inputs and the output.
     * The backward step runs the block again on a recording tape of its own and back-propagates through it; the
     * gradients of the block's parameters (which it reads as variables of this pass) and of {@code inputs} are those
     * of the block run directly, to float32 rounding. On a tape that records nothing it just runs the block.
     */
    public Var checkpoint(Var[] inputs, BiFunction<Tape, Var[], Var> block) {
        if (!record) {
            return block.apply(this, inputs);
        }
        Tape first = new Tape(false);
        first.made = new ArrayList<>();
        Var y = block.apply(first, copies(inputs));
        for (Var v : first.made) {
            if (v != y && !v.borrowed && !Buffers.sameMemory(v.value, y.value) && !sharesMemory(v.value, inputs)) {
                Buffers.release(v.value);
            }
        }
        Var out = result(y.value, y.needsGrad, inputs);
        if (!out.needsGrad) {
            return out;
        }
        steps.add(() -> {
            boolean owned = out.gradOwned;
            INDArray dy = out.takeGrad();
            if (dy != null) {
                Tape again = new Tape(true);
                Var[] ins = copies(inputs);
                Var z = block.apply(again, ins);
                again.backward(z, dy);
                boolean passed = false;
                for (int i = 0; i < inputs.length; i++) {
                    INDArray g = ins[i].grad;
                    if (g != null) {
                        boolean isDy = Buffers.sameMemory(g, dy); // dy passed through (a residual): never handed back
                        inputs[i].accumulate(g, ins[i].gradOwned && !isDy);
                        passed |= isDy;
                    }
                }
                if (!sharesMemory(z.value, inputs)) {
                    Buffers.release(z.value);
                }
                if (owned && !passed && !Buffers.sameMemory(dy, rootGrad)) {
                    Buffers.release(dy);
                }
            }
            if (out != root && !out.borrowed && (root == null || !Buffers.sameMemory(out.value, root.value))) {
                Buffers.release(out.value);
            }
        });
        return out;
    }

    /** New variables of the same values, needing gradients as the given ones (a block's inputs for one run). */
    private static Var[] copies(Var[] vars) {
        Var[] out = new Var[vars.length];
        for (int i = 0; i < vars.length; i++) {
            out[i] = new Var(vars[i].value, vars[i].needsGrad);
        }
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

    /**
     * Frees the memory the kernels keep for reuse (handed-back outputs and recycled gradients, up to
     * {@link Buffers#POOL_BYTES}) before something else needs it: the driver's validation network in local mode, which
     * shares the JVM with a worker's. Returns the bytes freed.
     */
    public static long freeReusableMemory() {
        return Buffers.freePool();
    }
}
