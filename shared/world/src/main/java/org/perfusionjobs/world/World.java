package org.perfusionjobs.world;

import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.LongStream;
import java.util.stream.Stream;

/**
 * The procedural world: captioned scenes of coloured shapes, each a pure function of a seed.
 *
 * <p>A sample's seed is split into independent streams for the scene, the jitter and the caption,
 * so a caption can be drawn without rendering and {@link #captions} agrees with {@link #samples}.
 */
public final class World {
  public static final double DEFAULT_TWO_OBJECT_FRACTION = 0.3;

  private final SceneSampler scenes;
  private final WorldRenderer renderer = new WorldRenderer();
  private final Captioner captioner;

  public World() {
    this(DEFAULT_TWO_OBJECT_FRACTION);
  }

  /**
   * @param twoObjectFraction the share of scenes with two objects, in [0, 1]
   */
  public World(double twoObjectFraction) {
    this(twoObjectFraction, 0);
  }

  /**
   * A world whose objects are striped with probability {@code stripedFraction} (for the evaluator's
   * pattern detector; captions do not mention patterns). With 0 the scenes are those of {@link
   * #World(double)}.
   */
  public World(double twoObjectFraction, double stripedFraction) {
    this(twoObjectFraction, stripedFraction, 0);
  }

  /**
   * A world whose captions are detailed ({@link Captioner#Captioner(double)}) with probability
   * {@code detailedCaptionFraction}; with 0 it is {@link #World(double, double)}.
   */
  public World(double twoObjectFraction, double stripedFraction, double detailedCaptionFraction) {
    this(twoObjectFraction, stripedFraction, detailedCaptionFraction, List.of(Pattern.STRIPES));
  }

  /**
   * A world whose objects are patterned with probability {@code patternedFraction}, each with a
   * pattern drawn uniformly from {@code patterns} (hidden ones: no caption names them). With {@code
   * List.of(Pattern.STRIPES)} it is {@link #World(double, double, double)}, sample for sample.
   */
  public World(
      double twoObjectFraction,
      double patternedFraction,
      double detailedCaptionFraction,
      List<Pattern> patterns) {
    this.scenes = new SceneSampler(twoObjectFraction, patternedFraction, patterns);
    this.captioner = new Captioner(detailedCaptionFraction);
  }

  /**
   * Renders a given scene with jitter from {@code seed}: for hand-made scenes such as a concept's
   * training images.
   */
  public Rendering render(Scene scene, long seed) {
    return renderer.render(scene, new SplittableRandom(seed));
  }

  public Sample sample(long seed) {
    Streams streams = new Streams(seed);
    Scene scene = scenes.draw(streams.scene);
    Rendering rendering = renderer.render(scene, streams.jitter);
    return new Sample(
        seed,
        scene,
        rendering.image(),
        rendering.masks(),
        captioner.caption(scene, streams.caption));
  }

  /**
   * {@code n} samples whose seeds are drawn from {@code seed}: unlike consecutive seeds, two
   * different start seeds give unrelated sets (a train set and a test set do not share samples).
   */
  public Stream<Sample> samples(long seed, int n) {
    return seeds(seed, n).mapToObj(this::sample);
  }

  /** The captions of {@code samples(seed, n)}, without rendering: a corpus for text statistics. */
  public List<String> captions(long seed, int n) {
    return seeds(seed, n)
        .mapToObj(
            s -> {
              Streams streams = new Streams(s);
              return captioner.caption(scenes.draw(streams.scene), streams.caption);
            })
        .toList();
  }

  /** The captions of {@code samples(seed, n)} with what each says: labels for a text encoder. */
  public List<Caption> describedCaptions(long seed, int n) {
    return seeds(seed, n)
        .mapToObj(
            s -> {
              Streams streams = new Streams(s);
              return captioner.describe(scenes.draw(streams.scene), streams.caption);
            })
        .toList();
  }

  /** Every word a caption can use, for building a tokenizer. */
  public Set<String> vocabulary() {
    return captioner.vocabulary();
  }

  private static LongStream seeds(long seed, int n) {
    return new SplittableRandom(seed).longs(n);
  }

  private static final class Streams {
    final SplittableRandom scene;
    final SplittableRandom jitter;
    final SplittableRandom caption;

    Streams(long seed) {
      SplittableRandom root = new SplittableRandom(seed);
      scene = root.split();
      jitter = root.split();
      caption = root.split();
    }
  }
}
