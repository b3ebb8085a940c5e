package org.perfusionjobs.worker;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.perfusionjobs.contracts.GenerateRequestV1;
import org.perfusionjobs.engine.attention.Region;
import org.perfusionjobs.engine.perfusion.ConceptUse;
import org.perfusionjobs.engine.perfusion.PerfusionModel;
import org.perfusionjobs.engine.personalization.ConceptGuidance;
import org.perfusionjobs.engine.pipeline.Conditioner;
import org.perfusionjobs.engine.pipeline.RegionalConditioner;
import org.perfusionjobs.engine.pipeline.RegionalConditioner.RegionPrompt;

/**
 * A generation request's regions (generate-request v3) around its method's conditioner: each box
 * draws its own prompt; with {@code confineConcepts} the rest of the image sees the prompt with
 * each concept's placeholder replaced by its superclass, unedited, so a concept is drawn only in
 * its box. With guidance through the superclass prompt each box is anchored on its own prompt's
 * superclass version. What the schema cannot say (an edge before its opposite edge, confinement
 * without regions) fails the job with the field named.
 */
final class RegionalRequests {
  private RegionalRequests() {}

  static Conditioner conditioner(
      GenerateRequestV1 r,
      PerfusionModel perfusion,
      List<ConceptUse> concepts,
      ConceptGuidance guidance)
      throws JobFailure {
    Conditioner method = perfusion.conditioner(concepts, r.globalLock() && !concepts.isEmpty());
    List<GenerateRequestV1.RegionRef> refs = r.regionsOrNone();
    if (refs.isEmpty()) {
      if (r.confined()) {
        throw new JobFailure(
            "/confineConcepts", "needs regions: give each concept's box in 'regions'");
      }
      return method;
    }
    List<RegionPrompt> regions = new ArrayList<>();
    for (int i = 0; i < refs.size(); i++) {
      GenerateRequestV1.RegionRef ref = refs.get(i);
      if (!(ref.left() < ref.right() && ref.top() < ref.bottom())) {
        throw new JobFailure(
            "/regions/" + i,
            String.format(
                Locale.ROOT,
                "left must be less than right and top less than bottom (fractions of the image),"
                    + " got left %s, top %s, right %s, bottom %s",
                ref.left(),
                ref.top(),
                ref.right(),
                ref.bottom()));
      }
      regions.add(
          new RegionPrompt(
              new Region(ref.left(), ref.top(), ref.right(), ref.bottom()), ref.prompt()));
    }
    regions = guidance.anchored(regions);
    if (!r.confined()) {
      return RegionalConditioner.of(method, regions);
    }
    return RegionalConditioner.confined(method, regions, perfusion.superclassConditioner(concepts));
  }
}
