package org.perfusionjobs.world;

import java.awt.geom.Area;
import java.awt.geom.Ellipse2D;
import java.awt.geom.Path2D;
import java.awt.geom.Rectangle2D;
import java.util.List;

/**
 * The kinds of object. Each outline is drawn in unit coordinates, inside the square [-1, 1]², so
 * that a radius alone decides how much room an object takes and objects never leave their cell.
 */
public enum Shape {
  CIRCLE("circle", new Ellipse2D.Double(-1, -1, 2, 2)),
  // Slightly smaller than its box so that its area stays close to the circle's and size reads
  // alike.
  SQUARE("square", new Rectangle2D.Double(-0.85, -0.85, 1.7, 1.7)),
  TRIANGLE("triangle", polygon(new double[] {0, 1, -1}, new double[] {-0.95, 0.8, 0.8})),
  STAR("star", star(5, 1.0, 0.45)),
  HEART("heart", heart());

  private final List<String> words;
  private final Path2D outline;

  Shape(String word, java.awt.Shape outline) {
    this.words = List.of(word);
    this.outline = flatten(outline);
  }

  /** The caption words for this shape; any of them may be used. */
  public List<String> words() {
    return words;
  }

  /** Whether the unit-sized outline contains the point (x, y), y pointing down as in images. */
  public boolean contains(double x, double y) {
    return outline.contains(x, y);
  }

  // A polygon tests containment much faster than an Area of curves, and the renderer asks
  // tens of thousands of times per object; at 1/500 of the radius the error is invisible.
  private static Path2D flatten(java.awt.Shape shape) {
    Path2D.Double path = new Path2D.Double(Path2D.WIND_NON_ZERO);
    path.append(shape.getPathIterator(null, 0.002), false);
    return path;
  }

  private static Path2D polygon(double[] xs, double[] ys) {
    Path2D.Double path = new Path2D.Double();
    path.moveTo(xs[0], ys[0]);
    for (int i = 1; i < xs.length; i++) {
      path.lineTo(xs[i], ys[i]);
    }
    path.closePath();
    return path;
  }

  private static Path2D star(int points, double outer, double inner) {
    double[] xs = new double[2 * points];
    double[] ys = new double[2 * points];
    for (int i = 0; i < 2 * points; i++) {
      double r = i % 2 == 0 ? outer : inner;
      double angle = -Math.PI / 2 + i * Math.PI / points; // first point straight up
      xs[i] = r * Math.cos(angle);
      ys[i] = r * Math.sin(angle);
    }
    return polygon(xs, ys);
  }

  // Two lobes and a point: the union of two circles and a triangle tangent-ish to them.
  private static Area heart() {
    Area heart = new Area(new Ellipse2D.Double(-1, -0.85, 1.04, 1.04));
    heart.add(new Area(new Ellipse2D.Double(-0.04, -0.85, 1.04, 1.04)));
    heart.add(new Area(polygon(new double[] {-0.93, 0.93, 0}, new double[] {-0.1, -0.1, 0.95})));
    return heart;
  }
}
