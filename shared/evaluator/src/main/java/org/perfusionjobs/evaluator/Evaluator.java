package org.perfusionjobs.evaluator;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.io.SafetensorsFile;
import org.perfusionjobs.engine.io.SafetensorsWriter;
import org.perfusionjobs.engine.io.StateDictLoader;
import org.perfusionjobs.world.Background;
import org.perfusionjobs.world.Colour;
import org.perfusionjobs.world.Pattern;
import org.perfusionjobs.world.Position;
import org.perfusionjobs.world.Size;

/**
 * Reads the world's attributes back from 64x64 images: for each cell of the 3x3 grid, whether an
 * object stands there and its shape, colour, size and fill; and the background. A folder holds
 * {@code config.json} and {@code model.safetensors}.
 */
public final class Evaluator implements AutoCloseable {
  public static final String CLASS_NAME = "WorldEvaluator";
  public static final String WEIGHTS = "model.safetensors";

  /** Images per forward pass. */
  private static final int CHUNK = 32;

  private final NDManager manager;
  final CellNet net;
  final HeadLayout layout;

  Evaluator(NDManager manager, CellNet net, HeadLayout layout) {
    this.manager = manager;
    this.net = net;
    this.layout = layout;
  }

  /**
   * A randomly initialised evaluator of plain and striped fills, to be trained ({@link
   * EvaluatorTrainer}).
   */
  public static Evaluator untrained(long seed) {
    return untrained(seed, List.of(Pattern.STRIPES));
  }

  /** A randomly initialised evaluator that tells plain from each of {@code hiddenPatterns}. */
  public static Evaluator untrained(long seed, List<Pattern> hiddenPatterns) {
    HeadLayout layout = HeadLayout.of(hiddenPatterns);
    NDManager m = NDManager.newBaseManager(Device.cpu());
    CellNet net = new CellNet(layout);
    net.initRandom(m, DataType.FLOAT32, seed);
    return new Evaluator(m, net, layout);
  }

  /** The patterns this evaluator tells apart, {@link Pattern#PLAIN} first. */
  public List<Pattern> patterns() {
    return layout.patterns();
  }

  /** Loads a folder written by {@link #save}. */
  public static Evaluator load(Path dir) throws IOException {
    Path config = dir.resolve("config.json");
    if (!Files.isRegularFile(config)) {
      throw new IOException("evaluator folder " + dir + " has no config.json");
    }
    JsonNode json = Configs.json().readTree(config.toFile());
    String cls = json.path("_class_name").asText();
    if (!CLASS_NAME.equals(cls)) {
      throw new IOException(config + ": _class_name is '" + cls + "', expected " + CLASS_NAME);
    }
    // Evaluators saved before the list existed (world-v1's) know plain and stripes.
    HeadLayout layout = HeadLayout.STRIPES_ONLY;
    if (json.has("patterns")) {
      List<Pattern> listed = new ArrayList<>();
      json.get("patterns").forEach(n -> listed.add(Pattern.fromName(n.asText())));
      layout = new HeadLayout(listed);
    }
    NDManager m = NDManager.newBaseManager(Device.cpu());
    CellNet net = new CellNet(layout);
    try (SafetensorsFile f = SafetensorsFile.open(dir.resolve(WEIGHTS))) {
      StateDictLoader.strict().load(net, f, m, DataType.FLOAT32, Device.cpu());
    } catch (IOException | RuntimeException e) {
      m.close();
      throw e;
    }
    return new Evaluator(m, net, layout);
  }

  /**
   * Writes {@code config.json} (with {@code info}, e.g. training settings and accuracy) and the
   * weights.
   */
  public void save(Path dir, Map<String, Object> info) throws IOException {
    Files.createDirectories(dir);
    ObjectNode j = Configs.json().createObjectNode();
    j.put("_class_name", CLASS_NAME);
    j.put("image_size", CellCrops.IMAGE);
    j.put("crop_size", CellCrops.CROP);
    j.set(
        "patterns",
        Configs.json().valueToTree(layout.patterns().stream().map(Pattern::word).toList()));
    j.set("info", Configs.json().valueToTree(info));
    Files.writeString(
        dir.resolve("config.json"),
        Configs.json().writerWithDefaultPrettyPrinter().writeValueAsString(j));
    SafetensorsWriter.writeModule(dir.resolve(WEIGHTS), net, Map.of("format", "pt"));
  }

  /** Predictions for 64x64 RGB images, in order. */
  public List<ScenePrediction> predict(List<BufferedImage> images) {
    List<ScenePrediction> out = new ArrayList<>(images.size());
    for (int i = 0; i < images.size(); i += CHUNK) {
      List<BufferedImage> part = images.subList(i, Math.min(images.size(), i + CHUNK));
      float[] crops = new float[part.size() * CellCrops.CELLS * CellCrops.FLOATS];
      for (int k = 0; k < part.size(); k++) {
        CellCrops.write(part.get(k), crops, k * CellCrops.CELLS * CellCrops.FLOATS);
      }
      float[] logits;
      try (NDScope scope = new NDScope()) {
        scope.suppressNotUsedWarning();
        NDArray x =
            manager.create(
                crops,
                new Shape((long) part.size() * CellCrops.CELLS, 3, CellCrops.CROP, CellCrops.CROP));
        logits = net.forward(x).toFloatArray();
      }
      for (int k = 0; k < part.size(); k++) {
        out.add(decode(logits, k * CellCrops.CELLS * layout.width()));
      }
    }
    return out;
  }

  public ScenePrediction predict(BufferedImage image) {
    return predict(List.of(image)).get(0);
  }

  /**
   * Objects are the cells whose presence probability is over one half, most confident first, and at
   * least the most likely cell (every prompt asks for one). Their number is the count: up to nine,
   * so an image with two copies where one was asked shows two.
   */
  private ScenePrediction decode(float[] logits, int offset) {
    double[] background = new double[layout.classes(Heads.BACKGROUND)];
    List<ObjectPrediction> cells = new ArrayList<>();
    for (Position p : Position.values()) {
      int row = offset + p.ordinal() * layout.width();
      double[] bg = softmax(logits, row, Heads.BACKGROUND);
      for (int c = 0; c < bg.length; c++) {
        background[c] += bg[c];
      }
      double presence = softmax(logits, row, Heads.PRESENT)[1];
      cells.add(
          new ObjectPrediction(
              p,
              org.perfusionjobs.world.Shape.values()[argmax(logits, row, Heads.SHAPE)],
              Colour.values()[argmax(logits, row, Heads.COLOUR)],
              Size.values()[argmax(logits, row, Heads.SIZE)],
              layout.patterns().get(argmax(logits, row, Heads.PATTERN)),
              presence));
    }
    cells.sort(Comparator.comparingDouble(ObjectPrediction::presence).reversed());
    List<ObjectPrediction> objects = new ArrayList<>();
    objects.add(cells.get(0));
    for (int i = 1; i < cells.size() && cells.get(i).presence() > 0.5; i++) {
      objects.add(cells.get(i));
    }
    int bg = 0;
    for (int c = 1; c < background.length; c++) {
      bg = background[c] > background[bg] ? c : bg;
    }
    return new ScenePrediction(Background.values()[bg], objects);
  }

  private double[] softmax(float[] logits, int row, Heads h) {
    int classes = layout.classes(h);
    int at = row + layout.offset(h);
    double max = Double.NEGATIVE_INFINITY;
    for (int c = 0; c < classes; c++) {
      max = Math.max(max, logits[at + c]);
    }
    double[] p = new double[classes];
    double sum = 0;
    for (int c = 0; c < classes; c++) {
      p[c] = Math.exp(logits[at + c] - max);
      sum += p[c];
    }
    for (int c = 0; c < classes; c++) {
      p[c] /= sum;
    }
    return p;
  }

  private int argmax(float[] logits, int row, Heads h) {
    int at = row + layout.offset(h);
    int best = 0;
    for (int c = 1; c < layout.classes(h); c++) {
      best = logits[at + c] > logits[at + best] ? c : best;
    }
    return best;
  }

  @Override
  public void close() {
    manager.close();
  }
}
