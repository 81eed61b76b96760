package dev.avatartrain.models.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Comparison of network outputs with PyTorch fixtures, shared by the network tests. */
public final class Parity {
    private Parity() {
    }

    /** Same shape and max|expected - actual| / (max|expected| + 1e-6) &lt;= tol. */
    public static void assertClose(INDArray expected, INDArray actual, double tol, String what) {
        assertEquals(Arrays.toString(expected.shape()), Arrays.toString(actual.shape()), what + " shape");
        INDArray e = expected.castTo(DataType.DOUBLE);
        double err = e.sub(actual.castTo(DataType.DOUBLE)).amaxNumber().doubleValue();
        double scale = e.amaxNumber().doubleValue() + 1e-6;
        assertTrue(err / scale <= tol, what + ": relative error " + err / scale + " > " + tol);
    }
}
