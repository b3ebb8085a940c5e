package org.perfusionjobs.evaluator;

import org.perfusionjobs.world.Colour;
import org.perfusionjobs.world.Pattern;
import org.perfusionjobs.world.Position;
import org.perfusionjobs.world.Shape;
import org.perfusionjobs.world.Size;

/**
 * One object the evaluator found: its cell, attributes, and the probability that an object stands
 * there.
 */
public record ObjectPrediction(
    Position position, Shape shape, Colour colour, Size size, Pattern pattern, double presence) {}
