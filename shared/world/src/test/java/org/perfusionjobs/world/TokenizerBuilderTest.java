package org.perfusionjobs.world;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.perfusionjobs.engine.clip.ClipTokenizer;

class TokenizerBuilderTest {
  private static final int CORPUS = 5000;
  private static TokenizerBuilder.Tokenizer built;
  private static Path dir;
  private static Set<String> targets;

  @BeforeAll
  static void build(@TempDir Path tmp) throws Exception {
    built = TokenizerBuilder.build(new World(), 0, CORPUS);
    dir = tmp.resolve("tokenizer");
    TokenizerBuilder.write(built, dir);
    targets = new TreeSet<>(new World().vocabulary());
    targets.addAll(TokenizerBuilder.GENERIC_WORDS);
    System.out.println(
        "world tokenizer: "
            + built.size()
            + " ids, "
            + built.merges().size()
            + " merges, "
            + targets.size()
            + " target words");
  }

  @Test
  void layoutFollowsClip() throws Exception {
    List<String> lines = Files.readAllLines(dir.resolve("merges.txt"), StandardCharsets.UTF_8);
    assertEquals("#version: 0.2", lines.get(0));
    assertEquals(built.merges().size(), lines.size() - 1);
    // Ids 0-511 coincide with the real CLIP vocabulary.
    assertEquals(0, built.vocab().get("!"));
    assertEquals(256, built.vocab().get("!</w>"));
    assertEquals(320, built.vocab().get("a</w>"));
    assertEquals(267, built.vocab().get(",</w>"));
    assertEquals(255, built.vocab().get("Ń"));
    assertEquals(512, built.vocab().get(String.join("", built.merges().get(0))));
    assertEquals(built.size() - 2, built.bosId());
    assertEquals(built.size() - 1, built.eosId());
    assertTrue(built.size() > 512 + 50 && built.size() < 2000, "vocab size " + built.size());
    for (String f :
        List.of("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json")) {
      assertTrue(Files.isRegularFile(dir.resolve(f)), f);
    }
    assertTrue(
        Files.readString(dir.resolve("tokenizer_config.json"))
            .contains("\"model_max_length\": 77"));
  }

  @Test
  void everyWordIsOneTokenInTheEngine() throws Exception {
    try (ClipTokenizer tok = ClipTokenizer.load(dir)) {
      assertEquals(built.size(), tok.vocabSize());
      List<String> split = new ArrayList<>();
      for (String w : targets) {
        List<Integer> ids = tok.idsOfWord(w);
        if (ids.size() != 1 || !ids.get(0).equals(built.vocab().get(w + "</w>"))) {
          split.add(w + " -> " + tok.tokens(w));
        }
      }
      assertEquals(List.of(), split);
    }
  }

  @Test
  void placeholdersAreNotSingleTokens() throws Exception {
    try (ClipTokenizer tok = ClipTokenizer.load(dir)) {
      for (String p : List.of("zwx", "sks", "ktn", "xqz")) {
        assertFalse(built.vocab().containsKey(p + "</w>"), p);
        assertTrue(tok.idsOfWord(p).size() > 1, p + " -> " + tok.tokens(p));
        assertEquals(built.pieces(p), tok.tokens(p), p);
      }
      // ... and they become one new token when added, as Perfusion does.
      try (ClipTokenizer with = tok.withAddedTokens(List.of("zwx"))) {
        assertEquals(List.of(with.addedTokenId("zwx")), with.idsOfWord("zwx"));
        assertEquals(built.size(), with.addedTokenId("zwx"));
      }
    }
  }

  @Test
  void captionsRoundTrip() throws Exception {
    List<String> captions = new World().captions(12345, 50);
    try (ClipTokenizer tok = ClipTokenizer.load(dir)) {
      for (String caption : captions) {
        List<String> pieces = tok.tokens(caption);
        // One piece per word and per comma, each the whole word with its end marker.
        List<String> expected = new ArrayList<>();
        for (String w : TokenizerBuilder.preTokens(caption)) {
          expected.add(w + "</w>");
        }
        assertEquals(expected, pieces, caption);
        assertEquals(built.pieces(caption), pieces, caption);
        assertEquals(
            caption.toLowerCase(), String.join(" ", pieces).replace("</w>", "").replace(" ,", ","));
      }
      long[] ids = tok.encode("a photo of a zwx star, red, small");
      assertEquals(77, ids.length);
      assertEquals(built.bosId(), ids[0]);
      assertEquals(built.vocab().get("a</w>"), (int) ids[1]);
      assertEquals(built.vocab().get("photo</w>"), (int) ids[2]);
      List<String> pieces = tok.tokens("a photo of a zwx star, red, small");
      assertEquals(List.of("a</w>", "photo</w>", "of</w>", "a</w>"), pieces.subList(0, 4));
      assertEquals(
          List.of("star</w>", ",</w>", "red</w>", ",</w>", "small</w>"),
          pieces.subList(pieces.size() - 5, pieces.size()));
    }
  }

  @Test
  void specialIdsComeFromTheFiles() throws Exception {
    try (ClipTokenizer tok = ClipTokenizer.load(dir)) {
      assertEquals(built.bosId(), tok.bosId());
      assertEquals(built.eosId(), tok.eosId());
      assertEquals(built.eosId(), tok.padId());
      assertEquals(77, tok.maxLength());
      long[] ids = tok.encode("a red circle");
      assertEquals(tok.bosId(), ids[0]);
      assertEquals(tok.eosId(), ids[4]);
      assertEquals(tok.padId(), ids[76]);
    }
  }

  @Test
  void outputIsDeterministic(@TempDir Path tmp) throws Exception {
    Path again = tmp.resolve("again");
    TokenizerBuilder.write(TokenizerBuilder.build(new World(), 0, CORPUS), again);
    for (String f :
        List.of("vocab.json", "merges.txt", "tokenizer_config.json", "special_tokens_map.json")) {
      assertArrayEquals(
          Files.readAllBytes(dir.resolve(f)), Files.readAllBytes(again.resolve(f)), f);
    }
  }

  @Test
  void mainWritesTheFolder(@TempDir Path tmp) throws Exception {
    Path out = tmp.resolve("tok");
    TokenizerBuilder.main(new String[] {out.toString(), String.valueOf(CORPUS)});
    assertArrayEquals(
        Files.readAllBytes(dir.resolve("vocab.json")),
        Files.readAllBytes(out.resolve("vocab.json")));
    assertArrayEquals(
        Files.readAllBytes(dir.resolve("merges.txt")),
        Files.readAllBytes(out.resolve("merges.txt")));
  }
}
