package org.perfusionjobs.cli;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code bench-personalization} end to end at a CI size (two concepts, Perfusion and its run-time
 * superclass-layout variant, 4 training steps, 2 prompts): the cells, the pair cells and the
 * report, the run-time variant evaluating Perfusion's own files; then a second sitting in a fresh
 * work folder, as a later session has, which must run the pairs from the concept files kept beside
 * the cells and train again only a file that was lost.
 */
class BenchPersonalizationRunTest {
  private static final Path MODEL =
      Path.of(System.getProperty("perfusion.models", "../../models"), "world-v2").toAbsolutePath();

  private static String[] bench(Path work, Path results) {
    return CliRun.run(
        "bench-personalization",
        "--quick",
        "--model",
        MODEL.toString(),
        "--concepts",
        "zwx,vkp",
        "--methods",
        "perfusion,perfusion-layout",
        "--prompts",
        "2",
        "--train-steps",
        "4",
        "--betas",
        "0.5",
        "--work",
        work.toString(),
        "--results",
        results.toString(),
        "--report",
        work.resolve("personalization.md").toString());
  }

  private static int count(String text, String regex) {
    Matcher m = Pattern.compile(regex, Pattern.MULTILINE).matcher(text);
    int n = 0;
    while (m.find()) {
      n++;
    }
    return n;
  }

  @Test
  @Timeout(900)
  void pairsOfALaterSittingUseTheKeptConceptFilesAndTrainAgainOnlyALostOne(@TempDir Path tmp)
      throws Exception {
    Path results = tmp.resolve("results");
    String[] first = bench(tmp.resolve("work-1"), results);
    assertEquals("0", first[0], first[1] + first[2]);
    assertEquals(2, count(first[2], "^\\$ perfusion train "), first[2]);
    for (String c : new String[] {"zwx", "vkp"}) {
      assertTrue(Files.exists(results.resolve(c).resolve("perfusion.json")), c);
      assertTrue(Files.size(results.resolve(c).resolve("perfusion.safetensors")) > 0, c);
    }
    Path pairCell = results.resolve("pairs/zwx+vkp/perfusion.json");
    assertTrue(Files.exists(pairCell), first[2]);
    assertTrue(Files.exists(results.resolve("pairs/zwx+vkp/words.json")), first[2]);
    String report = Files.readString(tmp.resolve("work-1/personalization.md"));
    assertTrue(report.contains("## Two concepts in one prompt"), report);
    assertTrue(report.contains("| zwx + vkp | perfusion |"), report);
    // The run-time variant trains nothing: it evaluates the paper's files with its option, in the
    // single cells and the pair, and reports their training time.
    assertEquals(3, count(first[2], "^\\$ perfusion eval .* --superclass-layout 0\\.1$"), first[2]);
    ObjectMapper json = new ObjectMapper();
    for (String c : new String[] {"zwx", "vkp"}) {
      JsonNode paper = json.readTree(results.resolve(c).resolve("perfusion.json").toFile());
      JsonNode layout = json.readTree(results.resolve(c).resolve("perfusion-layout.json").toFile());
      assertEquals(paper.get("trainSeconds").asDouble(), layout.get("trainSeconds").asDouble(), c);
      assertEquals(paper.get("fileBytes").asLong(), layout.get("fileBytes").asLong(), c);
      assertTrue(
          layout.get("settings").asText().endsWith(" file=perfusion eval=--superclass-layout 0.1"));
      assertFalse(Files.exists(results.resolve(c).resolve("perfusion-layout.safetensors")), c);
    }
    assertTrue(Files.exists(results.resolve("pairs/zwx+vkp/perfusion-layout.json")), first[2]);
    assertTrue(report.contains("| zwx + vkp | perfusion + superclass layout 0.1 |"), report);

    // A later sitting: a new work folder (the first is gone), one pair cell and one kept file lost.
    byte[] zwx = Files.readAllBytes(results.resolve("zwx/perfusion.safetensors"));
    byte[] vkp = Files.readAllBytes(results.resolve("vkp/perfusion.safetensors"));
    Files.delete(pairCell);
    Files.delete(results.resolve("vkp/perfusion.safetensors"));
    String[] second = bench(tmp.resolve("work-2"), results);
    assertEquals("0", second[0], second[1] + second[2]);
    assertEquals(1, count(second[2], "^\\$ perfusion train "), "only the lost file: " + second[2]);
    assertTrue(
        second[2].contains("vkp (perfusion): no concept file kept beside its cell; training it"),
        second[2]);
    assertFalse(second[2].contains("zwx (perfusion): no concept file"), second[2]);
    assertTrue(Files.exists(pairCell), second[2]);
    assertArrayEquals(zwx, Files.readAllBytes(results.resolve("zwx/perfusion.safetensors")));
    // Same images, recipe and seed: the retrained file names the same tensors with the same shapes
    // and the same recipe (its final loss aside: libtorch's threaded CPU kernels do not repeat
    // bit for bit).
    assertEquals(
        header(vkp), header(Files.readAllBytes(results.resolve("vkp/perfusion.safetensors"))));
  }

  /** A safetensors file's header (8-byte little-endian length, then JSON), final loss removed. */
  private static JsonNode header(byte[] file) throws Exception {
    long n = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
    ObjectNode h = (ObjectNode) new ObjectMapper().readTree(new String(file, 8, (int) n, UTF_8));
    ((ObjectNode) h.get("__metadata__")).remove("train.final_loss");
    return h;
  }
}
