package dev.avatartrain.models.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

import dev.avatartrain.models.cuda.DeviceTape.Node;
import org.junit.jupiter.api.Test;

/**
 * The device tape's order and bookkeeping, with boxed numbers standing in for device buffers: derivatives of a small
 * expression graph, the order the steps run in, and that every intermediate gradient is released exactly once.
 */
class DeviceTapeTest {
    /** Gradients as boxed doubles; each box is one "buffer", tracked from creation to release. */
    private static final class Boxes implements DeviceTape.Gradients<double[]> {
        final Map<double[], Integer> live = new IdentityHashMap<>();
        final List<double[]> releasedTwice = new ArrayList<>();

        double[] of(double v) {
            double[] b = {v};
            live.put(b, 1);
            return b;
        }

        @Override
        public double[] add(double[] a, double[] b) {
            a[0] += b[0];
            release(b);
            return a;
        }

        @Override
        public void release(double[] g) {
            if (live.remove(g) == null) {
                releasedTwice.add(g);
            }
        }
    }

    @Test
    void backwardRunsNewestFirstWithCompleteGradients() {
        Boxes boxes = new Boxes();
        DeviceTape<double[]> tape = new DeviceTape<>(boxes, true);
        double x = 3;
        double y = -2;
        Node<double[]> xn = tape.parameter();
        Node<double[]> yn = tape.parameter();
        Node<double[]> c = tape.constant();
        // u = x·y; v = u + x (v passes its gradient to u itself, a copy to x); w = v²; an unused branch z = y·5
        double u = x * y;
        Node<double[]>[] un = new Node[1];
        un[0] = tape.record("mul", dy -> {
            tape.accumulate(xn, boxes.of(dy[0] * y));
            tape.accumulate(yn, boxes.of(dy[0] * x));
        }, xn, yn);
        double v = u + x;
        Node<double[]> vn = tape.record("add", dy -> {
            tape.accumulate(un[0], dy);
            tape.accumulate(xn, boxes.of(dy[0]));
        }, un[0], xn);
        tape.record("scale-unused", dy -> tape.accumulate(yn, boxes.of(dy[0] * 5)), yn, c);
        Node<double[]> wn = tape.record("square", dy -> tape.accumulate(vn, boxes.of(2 * v * dy[0])), vn);
        tape.backward(wn, boxes.of(1));
        // dw/dx = 2v·(y + 1), dw/dy = 2v·x
        assertEquals(2 * v * (y + 1), xn.grad()[0], 1e-12);
        assertEquals(2 * v * x, yn.grad()[0], 1e-12);
        assertEquals(List.of("square", "add", "mul"), tape.lastOrder());
        assertNull(vn.grad());
        assertNull(wn.grad());
        // only the parameters' gradients are still held
        assertEquals(2, boxes.live.size());
        assertEquals(List.of(), boxes.releasedTwice);
    }

    @Test
    void aStepMayPassItsGradientOnOnlyOnce() {
        Boxes boxes = new Boxes();
        DeviceTape<double[]> tape = new DeviceTape<>(boxes, true);
        Node<double[]> a = tape.parameter();
        Node<double[]> b = tape.parameter();
        Node<double[]> s = tape.record("add", dy -> {
            tape.accumulate(a, dy);
            tape.accumulate(b, dy);
        }, a, b);
        assertThrows(IllegalStateException.class, () -> tape.backward(s, boxes.of(1)));
    }

    @Test
    void constantsAndInferenceRecordNothing() {
        Boxes boxes = new Boxes();
        DeviceTape<double[]> tape = new DeviceTape<>(boxes, false);
        Node<double[]> p = tape.parameter();
        Node<double[]> out = tape.record("op", dy -> { }, p);
        assertEquals(false, out.needsGrad());
        assertThrows(IllegalStateException.class, () -> tape.backward(out, boxes.of(1)));
        DeviceTape<double[]> rec = new DeviceTape<>(boxes, true);
        assertEquals(false, rec.record("op", dy -> { }, rec.constant()).needsGrad());
    }
}
