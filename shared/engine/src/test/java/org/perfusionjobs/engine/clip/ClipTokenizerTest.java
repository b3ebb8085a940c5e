package org.perfusionjobs.engine.clip;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.perfusionjobs.engine.config.Configs;
import org.perfusionjobs.engine.io.SafetensorsFile;
import org.perfusionjobs.testdata.TestData;

/** Token ids must equal transformers' CLIPTokenizer exactly (reference tokens and manifest). */
class ClipTokenizerTest {
  static Path ref;
  static ClipTokenizer tok;

  @BeforeAll
  static void load() throws Exception {
    ref = TestData.sdTinyRef();
    tok = ClipTokenizer.load(ref.resolve("tokenizer"));
  }

  @Test
  void specialTokensComeFromTheFiles() {
    assertEquals(571, tok.bosId());
    assertEquals(572, tok.eosId());
    assertEquals(572, tok.padId());
    assertEquals(573, tok.vocabSize());
    assertEquals(77, tok.maxLength());
  }

  @Test
  void everyReferenceStringGivesExactlyTheReferenceIds() throws Exception {
    JsonNode manifest = Configs.json().readTree(ref.resolve("reference/manifest.json").toFile());
    List<String> texts = new ArrayList<>();
    manifest.get("prompts").forEach(p -> texts.add(p.asText()));
    manifest.get("extra_token_cases").forEach(p -> texts.add(p.asText()));
    try (NDManager m = NDManager.newBaseManager();
        SafetensorsFile f = SafetensorsFile.open(ref.resolve("reference/tokens.safetensors"))) {
      long[] prompts = f.read("prompt_input_ids", m).toLongArray();
      for (int i = 0; i < 4; i++) {
        long[] expected = Arrays.copyOfRange(prompts, i * 77, (i + 1) * 77);
        assertArrayEquals(expected, tok.encode(texts.get(i)), "prompt " + i + ": " + texts.get(i));
      }
      for (int i = 0; i < 5; i++) {
        assertArrayEquals(
            f.read("extra_" + i + "_input_ids", m).toLongArray(),
            tok.encode(texts.get(4 + i)),
            "extra " + i + ": " + texts.get(4 + i));
      }
    }
    // The manifest's BPE pieces too.
    for (JsonNode c : manifest.get("tokenization").get("cases")) {
      List<String> pieces = new ArrayList<>();
      c.get("tokens_unpadded").forEach(t -> pieces.add(t.asText()));
      if (!c.get("truncated").asBoolean()) {
        assertEquals(
            pieces.subList(1, pieces.size() - 1),
            tok.tokens(c.get("text").asText()),
            c.get("text").asText());
      }
    }
  }

  @Test
  void longTextKeepsItsFirst75ContentTokens() {
    long[] ids = tok.encode("a ".repeat(200));
    assertEquals(571, ids[0]);
    assertEquals(320, ids[75]);
    assertEquals(572, ids[76]);
  }

  @Test
  void addedWordsAreOneNewTokenNeverSplit() {
    ClipTokenizer t = tok.withAddedTokens(List.of("<zwx>", "Sks", "photo"));
    assertEquals(573, t.addedTokenId("<zwx>"));
    assertEquals(574, t.addedTokenId("sks"));
    assertEquals(575, t.addedTokenId("photo"));
    long[] ids = t.encode("A photo of a <zwx> and SKS, sksx");
    assertEquals(571, ids[1 - 1]);
    assertEquals(320, ids[1]);
    assertEquals(575, ids[2], "an added word shadows the normal BPE of that word");
    assertEquals(573, ids[5]);
    assertEquals(574, ids[7]);
    assertTrue(ids[9] != 574 && ids[9] != 573, "only whole words match");
    assertEquals(List.of(573), t.idsOfWord("<zwx>"));
    assertTrue(tok.idsOfWord("birds").size() > 1);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> tok.withAddedTokens(List.of("two words")));
    assertTrue(e.getMessage().contains("'two words'"), e.getMessage());
  }
}
