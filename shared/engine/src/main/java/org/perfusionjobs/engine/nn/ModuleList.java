package org.perfusionjobs.engine.nn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;

/** An indexed list of children named {@code 0, 1, ...}, like {@code torch.nn.ModuleList}. */
public final class ModuleList<M extends Module> extends Module implements Iterable<M> {
  private final List<M> items = new ArrayList<>();

  public <T extends M> T add(T module) {
    child(Integer.toString(items.size()), module);
    items.add(module);
    return module;
  }

  public M get(int i) {
    return items.get(i);
  }

  public int size() {
    return items.size();
  }

  public boolean isEmpty() {
    return items.isEmpty();
  }

  public List<M> asList() {
    return Collections.unmodifiableList(items);
  }

  @Override
  public Iterator<M> iterator() {
    return asList().iterator();
  }
}
