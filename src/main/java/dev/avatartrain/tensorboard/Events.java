package dev.avatartrain.tensorboard;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;

import com.google.protobuf.CodedOutputStream;

/**
 * The few TensorBoard messages we write, encoded field by field with protobuf-java's {@link CodedOutputStream}.
 * Field numbers are TensorFlow's ({@code tensorflow/core/util/event.proto}, {@code framework/summary.proto},
 * {@code tensor.proto}, {@code tensor_shape.proto}); {@code TensorBoardEventsTest} reads the result with TensorBoard's
 * own reader, which would reject a wrong number or wire type.
 */
public final class Events {
    /** What TensorBoard expects as the first event of every file. */
    public static final String FILE_VERSION = "brain.Event:2";

    // Event
    private static final int EVENT_WALL_TIME = 1, EVENT_STEP = 2, EVENT_FILE_VERSION = 3, EVENT_SUMMARY = 5, EVENT_SESSION_LOG = 7;
    // SessionLog
    private static final int SESSION_STATUS = 1, SESSION_START = 1;
    // Summary, Summary.Value
    private static final int SUMMARY_VALUE = 1;
    private static final int VALUE_TAG = 1, VALUE_SIMPLE = 2, VALUE_IMAGE = 4, VALUE_TENSOR = 8, VALUE_METADATA = 9;
    // Summary.Image
    private static final int IMAGE_HEIGHT = 1, IMAGE_WIDTH = 2, IMAGE_COLORSPACE = 3, IMAGE_ENCODED = 4;
    // SummaryMetadata, SummaryMetadata.PluginData
    private static final int METADATA_PLUGIN_DATA = 1, PLUGIN_NAME = 1;
    // TensorProto (dtype DT_STRING = 7; an empty TensorShapeProto is a scalar)
    private static final int TENSOR_DTYPE = 1, TENSOR_SHAPE = 2, TENSOR_STRING_VAL = 8, DT_STRING = 7;

    private Events() {}

    /** {@code Event{wall_time, file_version}}. */
    public static byte[] fileVersion(double wallTime) {
        return message(o -> {
            o.writeDouble(EVENT_WALL_TIME, wallTime);
            o.writeString(EVENT_FILE_VERSION, FILE_VERSION);
        });
    }

    /**
     * {@code Event{session_log: START}} at {@code step}: TensorBoard drops events at or after {@code step} that came
     * before it (a resumed run replaces what a stopped one wrote after its checkpoint).
     */
    public static byte[] sessionStart(double wallTime, long step) {
        byte[] log = message(o -> o.writeEnum(SESSION_STATUS, SESSION_START));
        return event(wallTime, step, EVENT_SESSION_LOG, log);
    }

    /** Scalars at one step: tag → value (written as float32, TensorBoard's {@code simple_value}). */
    public static byte[] scalars(double wallTime, long step, Map<String, Double> values) {
        byte[] summary = message(o -> {
            for (Map.Entry<String, Double> e : values.entrySet()) {
                o.writeByteArray(SUMMARY_VALUE, message(v -> {
                    v.writeString(VALUE_TAG, e.getKey());
                    v.writeFloat(VALUE_SIMPLE, e.getValue().floatValue());
                }));
            }
        });
        return event(wallTime, step, EVENT_SUMMARY, summary);
    }

    /** An encoded image (PNG) of {@code width}×{@code height}, RGB. */
    public static byte[] image(double wallTime, long step, String tag, byte[] encoded, int width, int height) {
        byte[] image = message(o -> {
            o.writeInt32(IMAGE_HEIGHT, height);
            o.writeInt32(IMAGE_WIDTH, width);
            o.writeInt32(IMAGE_COLORSPACE, 3);
            o.writeByteArray(IMAGE_ENCODED, encoded);
        });
        return event(wallTime, step, EVENT_SUMMARY, value(tag, VALUE_IMAGE, image, null));
    }

    /** Markdown text for TensorBoard's text plugin: a scalar {@code DT_STRING} tensor with {@code plugin_name "text"}. */
    public static byte[] text(double wallTime, long step, String tag, String markdown) {
        byte[] tensor = message(o -> {
            o.writeEnum(TENSOR_DTYPE, DT_STRING);
            o.writeByteArray(TENSOR_SHAPE, new byte[0]);
            o.writeByteArray(TENSOR_STRING_VAL, markdown.getBytes(StandardCharsets.UTF_8));
        });
        byte[] metadata = message(o -> o.writeByteArray(METADATA_PLUGIN_DATA, message(p -> p.writeString(PLUGIN_NAME, "text"))));
        return event(wallTime, step, EVENT_SUMMARY, value(tag, VALUE_TENSOR, tensor, metadata));
    }

    private static byte[] value(String tag, int field, byte[] content, byte[] metadata) {
        return message(o -> o.writeByteArray(SUMMARY_VALUE, message(v -> {
            v.writeString(VALUE_TAG, tag);
            if (metadata != null) v.writeByteArray(VALUE_METADATA, metadata);
            v.writeByteArray(field, content);
        })));
    }

    private static byte[] event(double wallTime, long step, int field, byte[] what) {
        return message(o -> {
            o.writeDouble(EVENT_WALL_TIME, wallTime);
            o.writeInt64(EVENT_STEP, step);
            o.writeByteArray(field, what);
        });
    }

    private interface Body {
        void write(CodedOutputStream out) throws IOException;
    }

    private static byte[] message(Body body) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            CodedOutputStream out = CodedOutputStream.newInstance(bytes);
            body.write(out);
            out.flush();
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e); // in-memory stream: not expected
        }
    }
}
