package dev.avatartrain.tensors;

import dev.avatartrain.errors.BadInputException;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * The element types the tensor formats share, and their names in each format. The one place where
 * safetensors, numpy and PyTorch type names map to ND4J's.
 */
public enum DType {
    F64(8, "F64", "f8", "DoubleStorage", DataType.DOUBLE),
    F32(4, "F32", "f4", "FloatStorage", DataType.FLOAT),
    F16(2, "F16", "f2", "HalfStorage", DataType.HALF),
    BF16(2, "BF16", null, "BFloat16Storage", DataType.BFLOAT16),
    I64(8, "I64", "i8", "LongStorage", DataType.LONG),
    I32(4, "I32", "i4", "IntStorage", DataType.INT),
    I16(2, "I16", "i2", "ShortStorage", DataType.SHORT),
    I8(1, "I8", "i1", "CharStorage", DataType.BYTE),
    U8(1, "U8", "u1", "ByteStorage", DataType.UBYTE),
    BOOL(1, "BOOL", "b1", "BoolStorage", DataType.BOOL);

    public final int size;
    public final String safetensorsName;
    /** numpy's type code without byte order ("f4"); null where numpy has no such type. */
    public final String numpyCode;
    public final String torchStorage;
    public final DataType nd4j;

    DType(int size, String safetensorsName, String numpyCode, String torchStorage, DataType nd4j) {
        this.size = size;
        this.safetensorsName = safetensorsName;
        this.numpyCode = numpyCode;
        this.torchStorage = torchStorage;
        this.nd4j = nd4j;
    }

    public static DType fromSafetensors(String name, String file) {
        for (DType d : values()) if (d.safetensorsName.equals(name)) return d;
        throw new BadInputException(file + ": unsupported safetensors dtype '" + name + "'; supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL.");
    }

    /** From a numpy code without byte order, e.g. "f4"; null if unknown. */
    public static DType fromNumpy(String code) {
        for (DType d : values()) if (code.equals(d.numpyCode)) return d;
        return null;
    }

    public static DType fromTorchStorage(String name) {
        for (DType d : values()) if (d.torchStorage.equals(name)) return d;
        return null;
    }

    public static DType of(DataType t) {
        for (DType d : values()) if (d.nd4j == t) return d;
        throw new IllegalArgumentException("no file dtype for ND4J " + t);
    }
}
