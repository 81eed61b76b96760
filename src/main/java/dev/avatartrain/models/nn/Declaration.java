package dev.avatartrain.models.nn;

import dev.avatartrain.models.kernels.Activation;

/**
 * The run of a definition that only declares its parameters: every operation returns the same placeholder token, so
 * nothing is computed and no input is needed.
 */
final class Declaration implements Ops<Object> {
    private static final Object TOKEN = new Object();
    private final Parameters parameters;

    Declaration(Parameters parameters) {
        this.parameters = parameters;
    }

    @Override public Object input(String name, long... shape) { return TOKEN; }
    @Override public Object parameter(String name) { parameters.get(name); return TOKEN; }
    @Override public Parameters parameters() { return parameters; }
    @Override public Object conv2d(Object x, Object w, Object b, int stride, int pad) { return TOKEN; }
    @Override public Object linear(Object x, Object w, Object b) { return TOKEN; }
    @Override public Object groupNorm(Object x, Object g, Object b, int groups, double eps, Activation a) { return TOKEN; }
    @Override public Object layerNorm(Object x, Object g, Object b, double eps) { return TOKEN; }
    @Override public Object activation(Object x, Activation a) { return TOKEN; }
    @Override public Object geglu(Object proj, int hidden) { return TOKEN; }
    @Override public Object attention(Object q, Object k, Object v, int heads, int headDim) { return TOKEN; }
    @Override public Object add(Object a, Object b) { return TOKEN; }
    @Override public Object affine(Object x, double a, double b) { return TOKEN; }
    @Override public Object addPerChannel(Object h, Object t) { return TOKEN; }
    @Override public Object concat(int axis, Object a, Object b) { return TOKEN; }
    @Override public Object padBottomRight(Object x) { return TOKEN; }
    @Override public Object upsample2x(Object x) { return TOKEN; }
    @Override public Object toTokens(Object x) { return TOKEN; }
    @Override public Object fromTokens(Object t, Object like) { return TOKEN; }
    @Override public Object flatten(Object x, int axis) { return TOKEN; }
    @Override public Object splitLast(Object x, int parts) { return TOKEN; }
    @Override public Object timestepEmbedding(Object t, int dim, double shift, boolean flip) { return TOKEN; }
    @Override public Object tanhClamp(Object x, double limit) { return TOKEN; }
    @Override public Object mseLoss(Object out, Object target) { return TOKEN; }
    @Override public Object l1Loss(Object out, Object target) { return TOKEN; }
    @Override public Object rowWeightedMse(Object out, Object target, Object w) { return TOKEN; }
}
