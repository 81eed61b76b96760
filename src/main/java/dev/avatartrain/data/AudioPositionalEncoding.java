package dev.avatartrain.data;

import java.util.Locale;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import dev.avatartrain.errors.BadInputException;

/**
 * What is added to the audio sequence {@code [B, S, D]} before it reaches the UNet's cross-attention
 * ({@code train.audio_positional_encoding}). {@link #MUSETALK} is MuseTalk's {@code PositionalEncoding}
 * ({@code musetalk/models/unet.py}): the transformer sinusoid over sequence positions,
 * {@code pe[s, 2i] = sin(s · exp(2i · −ln(10000)/D))}, {@code pe[s, 2i+1] = cos(s · exp(2i · −ln(10000)/D))},
 * added to every sample ({@code x + pe[:S]}). MuseTalk applies it to the whisper features right before
 * {@code unet(latents, t, encoder_hidden_states=pe(audio))} in its inference scripts; here it is applied by the
 * sampler, so training, validation and {@code generate} see the same conditioning. MuseTalk builds it with
 * {@code max_len=5000} and {@code d_model=384}; here {@code D} is the features' size (even, as the formula needs).
 */
public enum AudioPositionalEncoding {
    NONE, MUSETALK;

    /** MuseTalk's table length: longer sequences have no encoding there. */
    public static final int MAX_LEN = 5000;

    /** {@code none} or {@code musetalk} (the configuration's spelling). */
    public static AudioPositionalEncoding of(String name) {
        if (name == null) return NONE;
        return switch (name.toLowerCase(Locale.ROOT)) {
            case "none" -> NONE;
            case "musetalk" -> MUSETALK;
            default -> throw new BadInputException("train.audio_positional_encoding: \"" + name + "\"; expected none or musetalk");
        };
    }

    /** The configuration's spelling of this value. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The table {@code [S, D]} in float32, computed as PyTorch does (float32 div_term and products). */
    public static INDArray table(int seqLen, int dim) {
        if (dim % 2 != 0) {
            throw new BadInputException("train.audio_positional_encoding: musetalk needs an even audio feature size; the features have " + dim);
        }
        if (seqLen > MAX_LEN) {
            throw new BadInputException("train.audio_positional_encoding: musetalk encodes at most " + MAX_LEN + " positions; the audio sequence has "
                    + seqLen);
        }
        float[] pe = new float[seqLen * dim];
        float scale = (float) (-Math.log(10000.0) / dim);
        for (int i = 0; i < dim; i += 2) {
            float div = (float) Math.exp((float) i * scale);
            for (int s = 0; s < seqLen; s++) {
                float angle = (float) s * div;
                pe[s * dim + i] = (float) Math.sin(angle);
                pe[s * dim + i + 1] = (float) Math.cos(angle);
            }
        }
        return Nd4j.create(pe, new long[] {seqLen, dim}, 'c');
    }

    /** {@code audio} [B, S, D] with the encoding added (a new array; {@link #NONE} returns the input). */
    public INDArray apply(INDArray audio) {
        if (this == NONE) return audio;
        if (audio.rank() != 3) throw new IllegalArgumentException("audio must be [B, S, D], is " + java.util.Arrays.toString(audio.shape()));
        INDArray pe = table((int) audio.size(1), (int) audio.size(2)).castTo(audio.dataType());
        INDArray out = audio.dup('c');
        for (long b = 0; b < audio.size(0); b++) out.slice(b).addi(pe);
        return out;
    }

    /** As {@link #apply(INDArray)} in {@code dtype} (the UNet's float type). */
    public INDArray apply(INDArray audio, DataType dtype) {
        return apply(audio.castTo(dtype));
    }
}
