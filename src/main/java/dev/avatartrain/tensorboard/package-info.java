/**
 * TensorBoard event files written from the JVM: {@code Event} protocol buffers (encoded with protobuf-java's
 * {@code CodedOutputStream}, {@link dev.avatartrain.tensorboard.Events}) in TFRecord framing with masked CRC32C
 * ({@link dev.avatartrain.tensorboard.TfRecord}), appended to one file locally or uploaded in closed segments to an
 * object store ({@link dev.avatartrain.tensorboard.EventFileWriter}), for TensorBoard.
 */
package dev.avatartrain.tensorboard;
