package org.perfusionjobs.evaluator.prompts;

/**
 * What a prompt can ask for and the evaluator can check. The first five are read per asked object
 * (for two-object prompts each object counts); {@link #CONCEPT} is whether the concept itself is in
 * the image: a red-and-white striped star for the demo concept.
 */
public enum Attribute {
  SHAPE,
  COLOUR,
  SIZE,
  POSITION,
  BACKGROUND,
  CONCEPT;

  public String label() {
    return name().toLowerCase();
  }
}
