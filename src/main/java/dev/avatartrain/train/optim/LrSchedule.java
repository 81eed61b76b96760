package dev.avatartrain.train.optim;

import dev.avatartrain.config.OptimizerConfig;

import java.io.Serializable;
import java.util.List;

/**
 * Learning rate at an optimizer step, by the formulas of diffusers' {@code get_scheduler}
 * ({@code diffusers/optimization.py}) with {@code LambdaLR} semantics: the rate at step {@code s} is
 * {@code base * lambda(s)}, where {@code s} counts the optimizer steps already taken, starting at 0.
 */
public final class LrSchedule implements Serializable {
    private static final long serialVersionUID = 1L;

    /** The schedule names {@link #of} accepts, as in {@code optimizer.yaml}. */
    public static final List<String> NAMES =
            List.of("constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts", "polynomial");

    /** diffusers' default end rate of the polynomial schedule (get_scheduler does not pass one). */
    static final double POLYNOMIAL_LR_END = 1e-7;

    private final String name;
    private final int warmupSteps;
    private final int trainingSteps;
    private final double baseLr;
    private final int numCycles;
    private final double power;

    private LrSchedule(String name, int warmupSteps, int trainingSteps, double baseLr, int numCycles, double power) {
        this.name = name;
        this.warmupSteps = warmupSteps;
        this.trainingSteps = trainingSteps;
        this.baseLr = baseLr;
        this.numCycles = numCycles;
        this.power = power;
    }

    /**
     * The schedule {@code cfg.lrScheduler()} over {@code maxTrainSteps} optimizer steps with peak rate
     * {@code baseLr} (already scaled, see {@link #scaledLr}). As in {@code get_scheduler}, {@code lr_num_cycles}
     * applies only to {@code cosine_with_restarts} (plain {@code cosine} is a half wave) and {@code lr_power} only
     * to {@code polynomial}; {@code constant} ignores the warm-up.
     */
    public static LrSchedule of(OptimizerConfig cfg, int maxTrainSteps, double baseLr) {
        String name = cfg.lrScheduler();
        if (!NAMES.contains(name)) {
            throw new IllegalArgumentException("optimizer.lr_scheduler: unknown schedule '" + name + "'; allowed: "
                    + String.join(", ", NAMES) + ".");
        }
        if (maxTrainSteps < 0) throw new IllegalArgumentException("max_train_steps must be >= 0, got " + maxTrainSteps + ".");
        if (cfg.lrWarmupSteps() < 0) {
            throw new IllegalArgumentException("optimizer.lr_warmup_steps must be >= 0, got " + cfg.lrWarmupSteps() + ".");
        }
        if (name.equals("polynomial") && !(baseLr > POLYNOMIAL_LR_END)) {
            // diffusers raises the same: the schedule decays from baseLr down to 1e-7.
            throw new IllegalArgumentException("optimizer.lr_scheduler polynomial: the learning rate (" + baseLr
                    + ") must be larger than the end rate " + POLYNOMIAL_LR_END + ".");
        }
        return new LrSchedule(name, cfg.lrWarmupSteps(), maxTrainSteps, baseLr, cfg.lrNumCycles(), cfg.lrPower());
    }

    /**
     * The peak rate: {@code learning_rate}, times batch size, accumulation steps and workers when {@code scale_lr}
     * (the product in diffusers' training scripts).
     */
    public static double scaledLr(OptimizerConfig cfg, int batch, int accum, int workers) {
        if (!cfg.scaleLr()) return cfg.learningRate();
        return cfg.learningRate() * accum * batch * workers;
    }

    /** The learning rate for the optimizer step taken after {@code step} steps. */
    public double lr(long step) {
        if (step < 0) throw new IllegalArgumentException("step must be >= 0, got " + step + ".");
        return baseLr * lambda(step);
    }

    public String name() {
        return name;
    }

    public double baseLr() {
        return baseLr;
    }

    // Each branch keeps diffusers' operation order so results agree to the last bit where Math does.
    private double lambda(long s) {
        if (name.equals("constant")) return 1.0;
        if (s < warmupSteps) {
            return (double) s / Math.max(1, warmupSteps);
        }
        long decaySteps = (long) trainingSteps - warmupSteps;
        double progress = (double) (s - warmupSteps) / Math.max(1, decaySteps);
        return switch (name) {
            case "constant_with_warmup" -> 1.0;
            case "linear" -> Math.max(0.0, (double) (trainingSteps - s) / Math.max(1, decaySteps));
            case "cosine" -> Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * 0.5 * 2.0 * progress)));
            case "cosine_with_restarts" -> progress >= 1.0 ? 0.0
                    : Math.max(0.0, 0.5 * (1.0 + Math.cos(Math.PI * ((numCycles * progress) % 1.0))));
            case "polynomial" -> polynomial(s, decaySteps);
            default -> throw new IllegalStateException(name);
        };
    }

    private double polynomial(long s, long decaySteps) {
        if (s > trainingSteps) return POLYNOMIAL_LR_END / baseLr;
        // diffusers divides by zero when warm-up fills the whole run; here the step is simply the last.
        double pctRemaining = decaySteps <= 0 ? 0.0 : 1 - (double) (s - warmupSteps) / decaySteps;
        double decay = (baseLr - POLYNOMIAL_LR_END) * Math.pow(pctRemaining, power) + POLYNOMIAL_LR_END;
        return decay / baseLr;
    }

    @Override
    public String toString() {
        return "LrSchedule[" + name + ", warmup " + warmupSteps + ", steps " + trainingSteps + ", lr " + baseLr
                + (name.equals("cosine_with_restarts") ? ", cycles " + numCycles : "")
                + (name.equals("polynomial") ? ", power " + power : "") + "]";
    }
}
