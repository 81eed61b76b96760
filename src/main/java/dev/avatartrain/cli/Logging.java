package dev.avatartrain.cli;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code --quiet} and {@code --verbose}: the product logs through SLF4J, which Spark binds to log4j2; these set the
 * levels of log4j2's configuration (bin/log4j2.properties, or the cluster's under spark-submit) at start-up.
 * Quiet: warnings and errors only (no progress line). Verbose: our debug messages and Spark's INFO lines.
 */
final class Logging {
    private static final Logger LOG = LoggerFactory.getLogger(Logging.class);
    static final String PRODUCT = "dev.avatartrain";

    private Logging() {}

    static void quiet() {
        set(org.apache.logging.log4j.Level.WARN, null);
    }

    /** Nothing at all from here on (a run stopped by a signal: Spark's shutdown would print the failed jobs). */
    static void off() {
        set(org.apache.logging.log4j.Level.OFF, org.apache.logging.log4j.Level.OFF);
    }

    static void verbose() {
        set(org.apache.logging.log4j.Level.DEBUG, org.apache.logging.log4j.Level.INFO);
        LOG.debug("verbose logging: {} at DEBUG, everything else at INFO", PRODUCT);
    }

    private static org.apache.logging.log4j.Level savedProduct, savedRoot;

    /** Puts back the levels in force before {@link #quiet()} or {@link #verbose()} (Main.run is called repeatedly by tests). */
    static synchronized void restore() {
        if (savedProduct == null) return;
        try {
            org.apache.logging.log4j.core.config.Configurator.setRootLevel(savedRoot);
            org.apache.logging.log4j.core.config.Configurator.setLevel(PRODUCT, savedProduct);
        } catch (LinkageError | RuntimeException e) {
            // nothing was changed then either
        }
        savedProduct = savedRoot = null;
    }

    private static synchronized void set(org.apache.logging.log4j.Level product, org.apache.logging.log4j.Level root) {
        try {
            if (savedProduct == null) {
                savedProduct = org.apache.logging.log4j.LogManager.getLogger(PRODUCT).getLevel();
                savedRoot = org.apache.logging.log4j.LogManager.getRootLogger().getLevel();
            }
            if (root != null) org.apache.logging.log4j.core.config.Configurator.setRootLevel(root);
            org.apache.logging.log4j.core.config.Configurator.setLevel(PRODUCT, product);
        } catch (LinkageError | RuntimeException e) { // SLF4J bound to something other than log4j2 (a cluster's choice)
            LOG.warn("--quiet/--verbose need log4j2 as SLF4J's binding ({}); set the levels in your logging configuration", e.toString());
        }
    }
}
