package dev.avatartrain.tensors;

import dev.avatartrain.errors.BadInputException;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * A pickle interpreter for exactly what {@code torch.save} writes for tensors and containers of them. It
 * never executes anything: the only "callables" are the few globals below, which it interprets itself.
 * Any other global (os.system, builtins.eval, subprocess.*, an unknown class) and every object-building
 * opcode (INST, OBJ, NEWOBJ, EXT, BUILD on anything but an OrderedDict) is refused with an
 * {@link UnsafeFileException} naming the file and what was asked for.
 *
 * <p>Hand-written because no JVM library offers a pickle reader restricted to data; general unpicklers
 * (e.g. Pyrolite) construct arbitrary registered classes.
 */
final class RestrictedUnpickler {
    /** A global the pickle named; only allowed ones are ever created. */
    record Global(String module, String name) {
        String qualified() {
            return module + "." + name;
        }
    }

    /** A Python tuple. */
    record Tuple(List<Object> items) {
        Object get(int i) {
            return items.get(i);
        }
    }

    /** Reduction of an allowed global: what {@code REDUCE} means for it. */
    interface Reducer {
        Object reduce(Global callable, Tuple args);
    }

    static final Set<String> OBJECT_GLOBALS = Set.of("collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
            "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state");

    private static final Object MARK = new Object();

    private final ByteBuffer in;
    private final String file;
    private final Function<Object, Object> persistentLoad;
    private final Reducer reducer;
    private final List<Object> stack = new ArrayList<>();
    private final List<Integer> marks = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();

    RestrictedUnpickler(byte[] pickle, String file, Function<Object, Object> persistentLoad, Reducer reducer) {
        this.in = ByteBuffer.wrap(pickle).order(ByteOrder.LITTLE_ENDIAN);
        this.file = file;
        this.persistentLoad = persistentLoad;
        this.reducer = reducer;
    }

    static boolean isAllowedGlobal(String module, String name) {
        String q = module + "." + name;
        return OBJECT_GLOBALS.contains(q) || (module.equals("torch") && DType.fromTorchStorage(name) != null);
    }

    Object load() {
        while (true) {
            int op = u8();
            switch (op) {
                case 0x80 -> u8(); // PROTO
                case 0x95 -> skip(8); // FRAME
                case '.' -> { // STOP
                    if (stack.size() != 1) throw corrupt("ends with " + stack.size() + " values on the stack");
                    return stack.get(0);
                }
                case '(' -> { marks.add(stack.size()); stack.add(MARK); }
                case '0' -> pop();
                case '1' -> popMark();
                case '2' -> push(peek());
                case 'N' -> push(null);
                case 0x88 -> push(Boolean.TRUE);
                case 0x89 -> push(Boolean.FALSE);
                case 'J' -> push((long) in.getInt(need(4)));
                case 'K' -> push((long) u8());
                case 'M' -> push((long) (in.getShort(need(2)) & 0xffff));
                case 0x8a -> push(longFrom(bytes(u8())));
                case 0x8b -> push(longFrom(bytes(len(in.getInt(need(4))))));
                case 'I' -> push(intLine(line()));
                case 'L' -> push(Long.parseLong(line().replaceAll("L$", "")));
                case 'G' -> push(ByteBuffer.wrap(bytes(8)).order(ByteOrder.BIG_ENDIAN).getDouble());
                case 'F' -> push(Double.parseDouble(line()));
                case 'X' -> push(utf8(bytes(len(in.getInt(need(4))))));
                case 0x8c -> push(utf8(bytes(u8())));
                case 0x8d -> push(utf8(bytes(len(in.getLong(need(8))))));
                case 'U' -> push(new String(bytes(u8()), StandardCharsets.ISO_8859_1));
                case 'T' -> push(new String(bytes(len(in.getInt(need(4)))), StandardCharsets.ISO_8859_1));
                case 'C' -> push(bytes(u8()));
                case 'B' -> push(bytes(len(in.getInt(need(4)))));
                case 0x8e -> push(bytes(len(in.getLong(need(8)))));
                case ')' -> push(new Tuple(List.of()));
                case 't' -> push(new Tuple(popMark()));
                case 0x85 -> push(new Tuple(listOf(pop())));
                case 0x86 -> { Object b = pop(), a = pop(); push(new Tuple(listOf(a, b))); }
                case 0x87 -> { Object c = pop(), b = pop(), a = pop(); push(new Tuple(listOf(a, b, c))); }
                case ']' -> push(new ArrayList<>());
                case '}' -> push(new LinkedHashMap<>());
                case 0x8f -> push(new ArrayList<>()); // EMPTY_SET, kept as a list
                case 'a' -> { Object v = pop(); asList(peek()).add(v); }
                case 'e', 0x90 -> { List<Object> items = popMark(); asList(peek()).addAll(items); }
                case 's' -> { Object v = pop(), k = pop(); asMap(peek()).put(key(k), v); }
                case 'u' -> {
                    List<Object> kv = popMark();
                    if (kv.size() % 2 != 0) throw corrupt("SETITEMS with an odd number of values");
                    Map<Object, Object> m = asMap(peek());
                    for (int i = 0; i < kv.size(); i += 2) m.put(key(kv.get(i)), kv.get(i + 1));
                }
                case 'l' -> push(new ArrayList<>(popMark()));
                case 'd' -> {
                    List<Object> kv = popMark();
                    Map<Object, Object> m = new LinkedHashMap<>();
                    for (int i = 0; i + 1 < kv.size(); i += 2) m.put(key(kv.get(i)), kv.get(i + 1));
                    push(m);
                }
                case 0x91 -> push(new ArrayList<>(popMark())); // FROZENSET
                case 'q' -> memo.put((long) u8(), peek());
                case 'r' -> memo.put(in.getInt(need(4)) & 0xffffffffL, peek());
                case 'p' -> memo.put(Long.parseLong(line()), peek());
                case 0x94 -> memo.put((long) memo.size(), peek());
                case 'h' -> push(memoGet(u8()));
                case 'j' -> push(memoGet(in.getInt(need(4)) & 0xffffffffL));
                case 'g' -> push(memoGet(Long.parseLong(line())));
                case 'c' -> push(global(line(), line()));
                case 0x93 -> { Object name = pop(), module = pop(); push(global(str(module), str(name))); }
                case 'Q' -> push(persistentLoad.apply(pop()));
                case 'P' -> push(persistentLoad.apply(line()));
                case 'R' -> {
                    Object args = pop(), callable = pop();
                    if (!(callable instanceof Global g)) throw corrupt("REDUCE of a value that is not a global");
                    if (!(args instanceof Tuple t)) throw corrupt("REDUCE with arguments that are not a tuple");
                    push(reducer.reduce(g, t));
                }
                case 'b' -> {
                    pop();
                    Object target = peek();
                    // OrderedDict state dicts carry `_metadata` as attributes; nothing else may be built.
                    if (!(target instanceof LinkedHashMap)) {
                        throw new UnsafeFileException(file + ": refused: the pickle builds an object with BUILD (on "
                                + describe(target) + "); tensor files never need that.");
                    }
                    // The state (e.g. {'_metadata': ...} of a state dict) is attributes, not items: dropped.
                }
                case 'i', 'o', 0x81, 0x92, 0x82, 0x83, 0x84, 0x97, 0x98 -> throw new UnsafeFileException(file
                        + ": refused: the pickle uses opcode 0x" + Integer.toHexString(op)
                        + " (object construction or extension), which tensor files never need.");
                default -> throw corrupt("unknown opcode 0x" + Integer.toHexString(op) + " at byte " + (in.position() - 1));
            }
        }
    }

    private Global global(String module, String name) {
        if (!isAllowedGlobal(module, name)) {
            throw new UnsafeFileException(file + ": refused: the pickle asks for the global '" + module + "." + name
                    + "', which is not a tensor, storage or container type; nothing was executed.");
        }
        return new Global(module, name);
    }

    private static String describe(Object o) {
        if (o instanceof Global g) return "global " + g.qualified();
        return o == null ? "None" : o.getClass().getSimpleName();
    }

    private Object key(Object k) {
        if (k instanceof List<?> || k instanceof Map<?, ?>) throw corrupt("a list or dict used as a dict key");
        return k;
    }

    private static List<Object> listOf(Object... items) {
        List<Object> l = new ArrayList<>(items.length);
        java.util.Collections.addAll(l, items);
        return java.util.Collections.unmodifiableList(l);
    }

    @SuppressWarnings("unchecked")
    private List<Object> asList(Object o) {
        if (o instanceof ArrayList<?> l) return (List<Object>) l;
        throw corrupt("APPEND to " + describe(o));
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> asMap(Object o) {
        if (o instanceof Map<?, ?> m) return (Map<Object, Object>) m;
        throw corrupt("SETITEM on " + describe(o));
    }

    private String str(Object o) {
        if (o instanceof String s) return s;
        throw corrupt("a global named by a non-string");
    }

    private Object memoGet(long k) {
        if (!memo.containsKey(k)) throw corrupt("refers to memo entry " + k + " that was never stored");
        return memo.get(k);
    }

    private void push(Object o) {
        stack.add(o);
    }

    private Object pop() {
        if (stack.isEmpty()) throw corrupt("pops an empty stack");
        Object o = stack.remove(stack.size() - 1);
        if (o == MARK) throw corrupt("pops a mark as a value");
        return o;
    }

    private Object peek() {
        if (stack.isEmpty() || stack.get(stack.size() - 1) == MARK) throw corrupt("reads an empty stack");
        return stack.get(stack.size() - 1);
    }

    private List<Object> popMark() {
        if (marks.isEmpty()) throw corrupt("has no mark to pop to");
        int m = marks.remove(marks.size() - 1);
        List<Object> items = new ArrayList<>(stack.subList(m + 1, stack.size()));
        while (stack.size() > m) stack.remove(stack.size() - 1);
        return items;
    }

    private int u8() {
        return in.get(need(1)) & 255;
    }

    private int need(int n) {
        if (in.remaining() < n) throw corrupt("is truncated (needs " + n + " more bytes at byte " + in.position() + ")");
        int p = in.position();
        in.position(p + n);
        return p;
    }

    private void skip(int n) {
        need(n);
    }

    private int len(long n) {
        if (n < 0 || n > in.remaining()) throw corrupt("declares a " + n + "-byte value with " + in.remaining() + " bytes left");
        return (int) n;
    }

    private byte[] bytes(int n) {
        byte[] b = new byte[n];
        in.get(need(n), b, 0, n);
        return b;
    }

    private String line() {
        int start = in.position();
        while (in.hasRemaining() && in.get(in.position()) != '\n') in.position(in.position() + 1);
        if (!in.hasRemaining()) throw corrupt("is truncated inside a text argument");
        String s = new String(in.array(), start, in.position() - start, StandardCharsets.UTF_8);
        in.position(in.position() + 1);
        return s;
    }

    private Object intLine(String s) {
        return switch (s) {
            case "00" -> Boolean.FALSE;
            case "01" -> Boolean.TRUE;
            default -> Long.parseLong(s);
        };
    }

    private static String utf8(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    private Object longFrom(byte[] le) {
        if (le.length == 0) return 0L;
        byte[] be = new byte[le.length];
        for (int i = 0; i < le.length; i++) be[i] = le[le.length - 1 - i];
        BigInteger v = new BigInteger(be);
        if (v.bitLength() > 63) throw corrupt("holds an integer too large for 64 bits");
        return v.longValue();
    }

    private BadInputException corrupt(String problem) {
        return new BadInputException(file + ": not a readable PyTorch file: its pickle " + problem + ".");
    }
}
