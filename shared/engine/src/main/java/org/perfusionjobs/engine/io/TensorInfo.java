package org.perfusionjobs.engine.io;

import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * One entry of a safetensors header. {@code begin}/{@code end} are byte offsets inside the data
 * section; {@code dtype} is the file's type name (F32, F16, BF16, I64, ...).
 */
public record TensorInfo(String name, String dtype, Shape shape, long begin, long end) {

  public long byteLength() {
    return end - begin;
  }

  /** The DJL type the tensor is read as; BF16 is widened to FLOAT32 (DJL aborts on BF16). */
  public DataType readType() {
    return switch (dtype) {
      case "F32" -> DataType.FLOAT32;
      case "F16" -> DataType.FLOAT16;
      case "BF16" -> DataType.FLOAT32;
      case "F64" -> DataType.FLOAT64;
      case "I64" -> DataType.INT64;
      case "I32" -> DataType.INT32;
      case "I8" -> DataType.INT8;
      case "U8" -> DataType.UINT8;
      case "BOOL" -> DataType.BOOLEAN;
      default ->
          throw new IllegalArgumentException(
              "tensor '" + name + "' has unsupported safetensors dtype " + dtype);
    };
  }

  static int elementSize(String dtype) {
    return switch (dtype) {
      case "F64", "I64" -> 8;
      case "F32", "I32" -> 4;
      case "F16", "BF16" -> 2;
      case "I8", "U8", "BOOL" -> 1;
      default -> throw new IllegalArgumentException("unsupported safetensors dtype " + dtype);
    };
  }

  static String nameOf(DataType type) {
    return switch (type) {
      case FLOAT32 -> "F32";
      case FLOAT16 -> "F16";
      case FLOAT64 -> "F64";
      case INT64 -> "I64";
      case INT32 -> "I32";
      case INT8 -> "I8";
      case UINT8 -> "U8";
      case BOOLEAN -> "BOOL";
      default -> throw new IllegalArgumentException("cannot write " + type + " to safetensors");
    };
  }
}
