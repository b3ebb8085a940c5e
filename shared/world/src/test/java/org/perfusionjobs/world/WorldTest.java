package org.perfusionjobs.world;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

class WorldTest {
  private final World world = new World();

  @Test
  void sameSeedSameSampleDifferentSeedsDiffer() {
    for (long seed = 0; seed < 20; seed++) {
      Sample a = world.sample(seed);
      Sample b = new World().sample(seed);
      assertEquals(a.scene(), b.scene());
      assertEquals(a.caption(), b.caption());
      assertArrayEquals(pixels(a.image()), pixels(b.image()));
      assertEquals(a.masks().size(), b.masks().size());
      for (int k = 0; k < a.masks().size(); k++) {
        assertArrayEquals(pixels(a.masks().get(k)), pixels(b.masks().get(k)));
      }
      Sample other = world.sample(seed + 1000);
      assertFalse(
          Arrays.equals(pixels(a.image()), pixels(other.image())),
          "seeds " + seed + " and " + (seed + 1000));
    }
  }

  @Test
  void samplesAndCaptionsAgreeAndDifferentStartSeedsShareNothing() {
    List<Sample> samples = world.samples(5, 50).toList();
    assertEquals(samples.stream().map(Sample::caption).toList(), world.captions(5, 50));
    for (Sample s : samples) {
      assertEquals(
          s.caption(), world.sample(s.seed()).caption(), "a sample is reproducible from its seed");
    }
    Set<Long> seeds = samples.stream().map(Sample::seed).collect(Collectors.toSet());
    assertTrue(world.samples(6, 50).noneMatch(s -> seeds.contains(s.seed())));
  }

  @Test
  void everyAttributeValueAppearsIn2000Samples() {
    Set<Shape> shapes = EnumSet.noneOf(Shape.class);
    Set<Colour> colours = EnumSet.noneOf(Colour.class);
    Set<Position> positions = EnumSet.noneOf(Position.class);
    Set<Size> sizes = EnumSet.noneOf(Size.class);
    Set<Background> backgrounds = EnumSet.noneOf(Background.class);
    Set<Relation> relations = EnumSet.noneOf(Relation.class);
    int[] twoObjects = {0};
    world
        .samples(7, 2000)
        .forEach(
            s -> {
              backgrounds.add(s.scene().background());
              s.scene().relation().ifPresent(relations::add);
              twoObjects[0] += s.scene().objects().size() == 2 ? 1 : 0;
              for (SceneObject o : s.scene().objects()) {
                shapes.add(o.shape());
                colours.add(o.colour());
                positions.add(o.position());
                sizes.add(o.size());
              }
            });
    assertEquals(EnumSet.allOf(Shape.class), shapes);
    assertEquals(EnumSet.allOf(Colour.class), colours);
    assertEquals(EnumSet.allOf(Position.class), positions);
    assertEquals(EnumSet.allOf(Size.class), sizes);
    assertEquals(EnumSet.allOf(Background.class), backgrounds);
    assertEquals(EnumSet.allOf(Relation.class), relations);
    assertEquals(World.DEFAULT_TWO_OBJECT_FRACTION, twoObjects[0] / 2000.0, 0.04);
  }

  @Test
  void twoObjectFractionIsConfigurable() {
    assertTrue(new World(0).samples(8, 200).allMatch(s -> s.scene().objects().size() == 1));
    assertTrue(new World(1).samples(8, 200).allMatch(s -> s.scene().objects().size() == 2));
  }

  @Test
  void renders1000SamplesInBoundedTime() {
    world.sample(0); // class loading and JIT warm-up are not what this measures
    long start = System.nanoTime();
    // Summing over the masks makes the stream render every sample (count() alone may skip the map).
    long masks = world.samples(9, 1000).mapToLong(s -> s.masks().size()).sum();
    double seconds = (System.nanoTime() - start) / 1e9;
    System.out.printf("World: 1000 samples rendered and captioned in %.2f s%n", seconds);
    assertTrue(masks >= 1000);
    assertTrue(seconds < 60, "took " + seconds + " s");
  }

  private static int[] pixels(BufferedImage image) {
    return image.getRGB(0, 0, image.getWidth(), image.getHeight(), null, 0, image.getWidth());
  }
}
