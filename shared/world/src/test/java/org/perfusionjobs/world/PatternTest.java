package org.perfusionjobs.world;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class PatternTest {
  @Test
  void aWorldWithoutStripesDrawsTheSameScenesAndPixelsAsThePlainWorld() {
    List<Sample> plain = new World(0.3).samples(5, 60).toList();
    List<Sample> zero = new World(0.3, 0).samples(5, 60).toList();
    for (int i = 0; i < plain.size(); i++) {
      assertEquals(plain.get(i).scene(), zero.get(i).scene());
      assertEquals(plain.get(i).caption(), zero.get(i).caption());
      for (int y = 0; y < WorldRenderer.SIZE; y++) {
        for (int x = 0; x < WorldRenderer.SIZE; x++) {
          assertEquals(plain.get(i).image().getRGB(x, y), zero.get(i).image().getRGB(x, y));
        }
      }
    }
    assertTrue(
        plain.stream()
            .allMatch(
                s -> s.scene().objects().stream().allMatch(o -> o.pattern() == Pattern.PLAIN)));
  }

  @Test
  void stripedFractionOneStripesEveryObject() {
    assertTrue(
        new World(0.5, 1)
            .samples(3, 50)
            .allMatch(
                s -> s.scene().objects().stream().allMatch(o -> o.pattern() == Pattern.STRIPES)));
  }

  @Test
  void aStripedLargeSquareAlternatesFiveBandsOfItsColourAndWhite() {
    SceneObject o =
        new SceneObject(Shape.SQUARE, Colour.RED, Position.CENTRE, Size.LARGE, Pattern.STRIPES);
    Rendering r = new World().render(new Scene(Background.GREY, List.of(o)), 1);
    int x = 32;
    StringBuilder runs = new StringBuilder();
    int red = 0;
    int white = 0;
    for (int y = 0; y < WorldRenderer.SIZE; y++) {
      int mask = r.masks().get(0).getRaster().getSample(x, y, 0);
      int rgb = r.image().getRGB(x, y) & 0xffffff;
      if (mask == 255) {
        char c = rgb == Colour.RED.rgb() ? 'R' : rgb == Pattern.STRIPE_RGB ? 'W' : '?';
        red += c == 'R' ? 1 : 0;
        white += c == 'W' ? 1 : 0;
        if (runs.length() == 0 || runs.charAt(runs.length() - 1) != c) {
          runs.append(c);
        }
      }
    }
    // A fully covered column crosses bands red, white, red, white, red (pixels on a band edge are
    // mixed).
    assertEquals("RWRWR", runs.toString().replace("?", ""), "bands down the middle column");
    assertTrue(red >= 4 && white >= 4, "red " + red + ", white " + white);
  }

  @Test
  void plainFillsEveryBand() {
    for (double v = -1; v <= 1; v += 0.01) {
      assertTrue(Pattern.PLAIN.ownColourAt(Shape.SQUARE, 0, v));
    }
    assertTrue(Pattern.STRIPES.ownColourAt(Shape.SQUARE, 0, -0.99));
    assertTrue(!Pattern.STRIPES.ownColourAt(Shape.SQUARE, 0, -0.5));
  }
}
