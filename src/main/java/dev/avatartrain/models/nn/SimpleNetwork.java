package dev.avatartrain.models.nn;

import java.util.List;

import org.nd4j.autodiff.samediff.SameDiff;

/** A {@link Network} that is just a graph and its parameter names (see {@link GraphBuilder#network()}). */
public record SimpleNetwork(SameDiff graph, List<String> parameterNames) implements Network {
    public SimpleNetwork {
        parameterNames = List.copyOf(parameterNames);
    }
}
