package dev.avatartrain.tensorboard;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * TFRecord framing, as TensorFlow's {@code record_writer.cc}: {@code uint64 length}, {@code uint32 masked_crc32c(length)},
 * {@code data}, {@code uint32 masked_crc32c(data)}, all little-endian.
 */
public final class TfRecord {
    private static final int MASK_DELTA = 0xa282ead8;

    private TfRecord() {}

    /** One framed record holding {@code data}. */
    public static byte[] frame(byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(8 + 4 + data.length + 4).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(data.length);
        b.putInt(maskedCrc(b.array(), 0, 8));
        b.put(data);
        b.putInt(maskedCrc(data, 0, data.length));
        return b.array();
    }

    /** CRC32C rotated right by 15 bits plus a constant: TensorFlow's mask, so CRCs of CRCs stay robust. */
    static int maskedCrc(byte[] bytes, int offset, int length) {
        CRC32C crc = new CRC32C();
        crc.update(bytes, offset, length);
        int c = (int) crc.getValue();
        return ((c >>> 15) | (c << 17)) + MASK_DELTA;
    }
}
