package org.perfusionjobs.world;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The hidden patterns beside stripes: exact masks, the white share each lays out, and no word for
 * them.
 */
class HiddenPatternsTest {
  private static final int N = WorldRenderer.SIZE;
  private final World world = new World();

  /**
   * A large red square on grey: pixels outside the mask are the background, and the pattern's white
   * share of the covered area is what its layout in the unit box gives (the square spans [-0.85,
   * 0.85]², area 2.89): stripes 2 bands of 0.4 inside it = 0.8 / 1.7; dots 9 whole discs of radius
   * 0.22 = 9 pi 0.22² / 2.89; checks by symmetry 1/2; ring a shape scaled by 0.5 = 1/4 of its area;
   * halves 1/2.
   */
  @Test
  void eachPatternsWhiteShareIsItsLayoutsAndPixelsStayInsideTheMask() {
    Map<Pattern, Double> expected = new EnumMap<>(Pattern.class);
    expected.put(Pattern.PLAIN, 0.0);
    expected.put(Pattern.STRIPES, 0.8 / 1.7);
    expected.put(Pattern.DOTS, 9 * Math.PI * 0.22 * 0.22 / (1.7 * 1.7));
    expected.put(Pattern.CHECKS, 0.5);
    expected.put(Pattern.RING, 0.25);
    expected.put(Pattern.HALVES, 0.5);
    for (Pattern p : Pattern.values()) {
      SceneObject o = new SceneObject(Shape.SQUARE, Colour.RED, Position.CENTRE, Size.LARGE, p);
      Rendering r = world.render(new Scene(Background.GREY, List.of(o)), 3);
      double white = 0;
      double covered = 0;
      for (int y = 0; y < N; y++) {
        for (int x = 0; x < N; x++) {
          int pixel = r.image().getRGB(x, y) & 0xffffff;
          int m = r.masks().get(0).getRaster().getSample(x, y, 0);
          if (m == 0) {
            assertEquals(
                Background.GREY.rgb(), pixel, p + ": a pixel outside the mask at " + x + "," + y);
            continue;
          }
          // Green: background 128, red 35, white 250. pixel = bg (1 - m) + red (m - w) + white w.
          double cov = m / 255.0;
          double w = (green(pixel) - 128 * (1 - cov) - 35 * cov) / (250 - 35);
          assertTrue(
              w > -0.01 && w < cov + 0.01,
              p + ": white share " + w + " of coverage " + cov + " at " + x + "," + y);
          white += w;
          covered += cov;
        }
      }
      assertEquals(expected.get(p), white / covered, 0.02, p + " white share");
    }
  }

  /**
   * Every hidden pattern changes a plain object of every shape and size visibly, inside the same
   * mask, and differs from every other pattern.
   */
  @Test
  void everyPatternDiffersMeasurablyFromPlainAndFromTheOthers() {
    for (Shape shape : Shape.values()) {
      for (Size size : Size.values()) {
        Map<Pattern, Rendering> renders = new EnumMap<>(Pattern.class);
        for (Pattern p : Pattern.values()) {
          renders.put(
              p,
              world.render(
                  new Scene(
                      Background.SKY,
                      List.of(new SceneObject(shape, Colour.BLUE, Position.LEFT, size, p))),
                  9));
        }
        BufferedImage mask = renders.get(Pattern.PLAIN).masks().get(0);
        int area = 0;
        for (int y = 0; y < N; y++) {
          for (int x = 0; x < N; x++) {
            area += mask.getRaster().getSample(x, y, 0) == 255 ? 1 : 0;
          }
        }
        for (Pattern p : Pattern.hidden()) {
          Rendering r = renders.get(p);
          assertTrue(sameMask(mask, r.masks().get(0)), p + " keeps the plain object's mask");
          // Blue against white differs by 170+ levels in red and green: count pixels changed by
          // more than 40.
          int changed = changed(renders.get(Pattern.PLAIN).image(), r.image());
          assertTrue(
              changed >= 0.1 * area,
              p + " " + shape + " " + size + ": " + changed + " of " + area + " pixels changed");
          for (Pattern q : Pattern.hidden()) {
            if (q.ordinal() > p.ordinal()) {
              assertTrue(
                  changed(r.image(), renders.get(q).image()) >= 3,
                  p + " and " + q + " look alike on a " + size + " " + shape);
            }
          }
        }
      }
    }
  }

  @Test
  void withAllHiddenPatternsEachIsDrawnAboutEquallyAndNoCaptionNamesOne() {
    World patterned = new World(0.3, 0.5, 0, Pattern.hidden());
    Map<Pattern, Long> counts =
        patterned
            .samples(4, 1500)
            .flatMap(s -> s.scene().objects().stream())
            .collect(
                Collectors.groupingBy(
                    SceneObject::pattern,
                    () -> new EnumMap<>(Pattern.class),
                    Collectors.counting()));
    long objects = counts.values().stream().mapToLong(Long::longValue).sum();
    assertEquals(0.5, counts.get(Pattern.PLAIN) / (double) objects, 0.04);
    for (Pattern p : Pattern.hidden()) {
      assertEquals(0.1, counts.getOrDefault(p, 0L) / (double) objects, 0.025, p + " share");
    }
    Set<String> words = Pattern.hidden().stream().map(Pattern::word).collect(Collectors.toSet());
    assertTrue(
        patterned.vocabulary().stream().noneMatch(words::contains),
        "a pattern word in the vocabulary");
    assertTrue(
        patterned.captions(4, 1500).stream()
            .flatMap(c -> Captioner.words(c).stream())
            .noneMatch(words::contains));
    assertThrows(
        IllegalArgumentException.class, () -> new World(0.3, 0.5, 0, List.of(Pattern.PLAIN)));
  }

  @Test
  void patternNamesParseAndAWrongOneNamesTheChoices() {
    assertEquals(Pattern.DOTS, Pattern.fromName("dots"));
    assertEquals(Pattern.STRIPES, Pattern.fromName("STRIPES"));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Pattern.fromName("zigzag"));
    assertTrue(
        e.getMessage().startsWith("pattern: unknown 'zigzag'") && e.getMessage().contains("halves"),
        e.getMessage());
  }

  @Test
  void crowdedScenesRenderOneMaskPerObjectButHaveNoCaption() {
    List<SceneObject> four =
        List.of(
            new SceneObject(Shape.STAR, Colour.RED, Position.TOP_LEFT, Size.LARGE),
            new SceneObject(Shape.HEART, Colour.BLUE, Position.CENTRE, Size.SMALL, Pattern.DOTS),
            new SceneObject(Shape.CIRCLE, Colour.GREEN, Position.BOTTOM_RIGHT, Size.MEDIUM),
            new SceneObject(
                Shape.SQUARE, Colour.YELLOW, Position.TOP_RIGHT, Size.LARGE, Pattern.RING));
    Scene scene = new Scene(Background.SAND, four);
    assertEquals(4, world.render(scene, 1).masks().size());
    assertTrue(scene.relation().isEmpty());
    assertThrows(
        IllegalArgumentException.class,
        () -> new Captioner().caption(scene, new SplittableRandom(1)));
    IllegalArgumentException same =
        assertThrows(
            IllegalArgumentException.class,
            () -> new Scene(Background.SAND, List.of(four.get(0), four.get(0))));
    assertTrue(same.getMessage().contains("distinct cells"), same.getMessage());
  }

  private static boolean sameMask(BufferedImage a, BufferedImage b) {
    for (int y = 0; y < N; y++) {
      for (int x = 0; x < N; x++) {
        if (a.getRaster().getSample(x, y, 0) != b.getRaster().getSample(x, y, 0)) {
          return false;
        }
      }
    }
    return true;
  }

  private static int changed(BufferedImage a, BufferedImage b) {
    int n = 0;
    for (int y = 0; y < N; y++) {
      for (int x = 0; x < N; x++) {
        int p = a.getRGB(x, y);
        int q = b.getRGB(x, y);
        n +=
            Math.abs(((p >> 16) & 255) - ((q >> 16) & 255)) > 40
                    || Math.abs(((p >> 8) & 255) - ((q >> 8) & 255)) > 40
                ? 1
                : 0;
      }
    }
    return n;
  }

  private static int green(int rgb) {
    return (rgb >> 8) & 255;
  }
}
