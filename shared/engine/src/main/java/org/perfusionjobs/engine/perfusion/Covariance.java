package org.perfusionjobs.engine.perfusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import org.perfusionjobs.engine.io.ModelLoadException;
import org.perfusionjobs.engine.io.SafetensorsFile;
import org.perfusionjobs.engine.io.SafetensorsWriter;

/**
 * The inverse uncentered covariance {@code Cinv} (D x D) of a base text encoder's token encodings,
 * in double precision, and its content hash. One per base model, shared by every concept; a concept
 * records the hash of the Cinv it was trained against.
 */
public final class Covariance {
  /** Default file name inside the model folder. */
  public static final String FILE_NAME = "perfusion_covariance.safetensors";

  private static final String TENSOR = "cinv";

  private final double[][] cinv; // (D, D)
  private final String hash;
  private final Map<String, String> metadata;

  public Covariance(double[][] cinv, Map<String, String> metadata) {
    int d = cinv.length;
    for (double[] row : cinv) {
      if (row.length != d) {
        throw new IllegalArgumentException(
            "Cinv must be square, got a row of " + row.length + " in " + d + " rows");
      }
    }
    this.cinv = cinv;
    this.hash = hashOf(cinv);
    this.metadata = Map.copyOf(metadata);
  }

  public int dim() {
    return cinv.length;
  }

  /** SHA-256 of the matrix (row-major little-endian doubles), hex. */
  public String hash() {
    return hash;
  }

  public Map<String, String> metadata() {
    return metadata;
  }

  /** Cinv as a read-only view; callers must not modify it. */
  double[][] matrix() {
    return cinv;
  }

  private double[][] cholesky;

  /** The lower Cholesky factor L of Cinv = L L', computed once. */
  synchronized double[][] cholesky() {
    if (cholesky == null) {
      cholesky = DenseMath.cholesky(cinv);
    }
    return cholesky;
  }

  /** Cinv x for a host vector. */
  public double[] apply(double[] x) {
    if (x.length != dim()) {
      throw new IllegalArgumentException(
          "vector of width " + x.length + " for a " + dim() + "-wide Cinv");
    }
    return DenseMath.times(cinv, x);
  }

  public NDArray toArray(NDManager m, DataType type) {
    double[] flat = new double[dim() * dim()];
    for (int i = 0; i < dim(); i++) {
      System.arraycopy(cinv[i], 0, flat, i * dim(), dim());
    }
    return m.create(flat, new Shape(dim(), dim())).toType(type, false);
  }

  public void save(Path file) throws IOException {
    Map<String, String> meta = new LinkedHashMap<>(metadata);
    meta.put("sha256", hash);
    meta.put("format", "perfusion-covariance/1");
    try (NDManager m = NDManager.newBaseManager()) {
      SafetensorsWriter.write(file, Map.of(TENSOR, toArray(m, DataType.FLOAT64)), meta);
    }
  }

  /** Loads a saved Cinv and checks that its content still matches the recorded hash. */
  public static Covariance load(Path file) throws IOException {
    try (SafetensorsFile f = SafetensorsFile.open(file);
        NDManager m = NDManager.newBaseManager()) {
      if (!f.tensors().containsKey(TENSOR)) {
        throw new ModelLoadException(
            file + " is not a Perfusion covariance file (no '" + TENSOR + "' tensor)");
      }
      NDArray a = f.read(TENSOR, m, DataType.FLOAT64);
      int d = (int) a.getShape().get(0);
      if (a.getShape().dimension() != 2 || a.getShape().get(1) != d) {
        throw new ModelLoadException(file + ": Cinv must be square, got " + a.getShape());
      }
      double[] flat = a.toDoubleArray();
      double[][] c = new double[d][d];
      for (int i = 0; i < d; i++) {
        System.arraycopy(flat, i * d, c[i], 0, d);
      }
      Map<String, String> meta = new LinkedHashMap<>(f.metadata());
      String recorded = meta.remove("sha256");
      meta.remove("format");
      Covariance cov = new Covariance(c, meta);
      if (recorded != null && !recorded.equals(cov.hash())) {
        throw new ModelLoadException(
            file
                + ": content hash "
                + cov.hash()
                + " differs from the recorded "
                + recorded
                + " (file corrupted?)");
      }
      return cov;
    }
  }

  private static String hashOf(double[][] m) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      ByteBuffer row = ByteBuffer.allocate(m.length * 8).order(ByteOrder.LITTLE_ENDIAN);
      for (double[] r : m) {
        row.clear();
        for (double v : r) {
          row.putDouble(v);
        }
        md.update(row.array(), 0, row.position());
      }
      return HexFormat.of().formatHex(md.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
