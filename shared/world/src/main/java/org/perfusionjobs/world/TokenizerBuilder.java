package org.perfusionjobs.world;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Builds a CLIP byte-level BPE tokenizer for the procedural world and writes it as a diffusers
 * {@code tokenizer/} folder (vocab.json, merges.txt, tokenizer_config.json,
 * special_tokens_map.json) in the same format as the real CLIP tokenizer and the tiny reference
 * pipeline.
 *
 * <p>Construction, as for CLIP: ids 0-255 are the 256 byte symbols in the GPT-2/CLIP
 * byte-to-unicode order, ids 256-511 the same symbols with {@code </w>}, then the merge results in
 * merge order, then {@code <|startoftext|>} and {@code <|endoftext|>}. The merges come from a
 * deterministic BPE loop over the pre-tokenized words of a caption corpus ({@link World#captions}):
 * it repeatedly merges the most frequent adjacent pair (ties: the lexicographically smallest pair,
 * first symbol then second) until every target word (the world's {@link World#vocabulary()} plus
 * {@link #GENERIC_WORDS}) is one token. Words that are neither in the corpus nor targets, such as
 * the placeholder words Perfusion adds at training time ({@code zwx}, {@code sks}), fall back to
 * smaller pieces.
 *
 * <p>Usage: {@code TokenizerBuilder OUT_DIR [CAPTIONS=20000] [SEED=0]}
 */
public final class TokenizerBuilder {
  /** Words used in prompts but not necessarily in captions; made single tokens too. */
  public static final List<String> GENERIC_WORDS =
      List.of(
          "a",
          "an",
          "the",
          "of",
          "photo",
          "picture",
          "image",
          "drawing",
          "and",
          "on",
          "in",
          "with",
          "background");

  public static final int DEFAULT_CORPUS_SIZE = 20_000;
  public static final long DEFAULT_CORPUS_SEED = 0;
  public static final String BOS = "<|startoftext|>";
  public static final String EOS = "<|endoftext|>";
  public static final int MODEL_MAX_LENGTH = 77;
  private static final String END = "</w>";

  /** CLIP's pre-tokenizer regex (text is lower-cased first), as in the engine's ClipTokenizer. */
  private static final Pattern SPLIT =
      Pattern.compile(
          "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+");

  /** The 256 byte symbols in vocabulary order (index = id). */
  private static final char[] VOCAB_ORDER = new char[256];

  /** The symbol of each byte value (index = byte & 0xff). */
  private static final char[] BYTE_TO_UNICODE = byteToUnicode();

  /** The result: vocabulary (token to id, ids 0..size-1) and merges in order. */
  public record Tokenizer(Map<String, Integer> vocab, List<String[]> merges) {
    public int size() {
      return vocab.size();
    }

    public int bosId() {
      return vocab.get(BOS);
    }

    public int eosId() {
      return vocab.get(EOS);
    }

    /** The BPE pieces of a text, as CLIP's slow tokenizer computes them (for self-checks). */
    public List<String> pieces(String text) {
      Map<String, Integer> rank = new HashMap<>();
      for (int i = 0; i < merges.size(); i++) {
        rank.put(merges.get(i)[0] + " " + merges.get(i)[1], i);
      }
      List<String> out = new ArrayList<>();
      for (String word : preTokens(text)) {
        List<String> s = new ArrayList<>(symbols(word));
        while (s.size() > 1) {
          int best = -1;
          int bestRank = Integer.MAX_VALUE;
          for (int i = 0; i + 1 < s.size(); i++) {
            Integer r = rank.get(s.get(i) + " " + s.get(i + 1));
            if (r != null && r < bestRank) {
              bestRank = r;
              best = i;
            }
          }
          if (best < 0) {
            break;
          }
          s.set(best, s.get(best) + s.remove(best + 1));
        }
        out.addAll(s);
      }
      return out;
    }
  }

  private TokenizerBuilder() {}

  public static void main(String[] args) throws IOException {
    if (args.length < 1 || args.length > 3) {
      System.err.println(
          "usage: TokenizerBuilder OUT_DIR [CAPTIONS="
              + DEFAULT_CORPUS_SIZE
              + "] [SEED="
              + DEFAULT_CORPUS_SEED
              + "]");
      System.exit(2);
    }
    Path out = Path.of(args[0]);
    int n = args.length > 1 ? Integer.parseInt(args[1]) : DEFAULT_CORPUS_SIZE;
    long seed = args.length > 2 ? Long.parseLong(args[2]) : DEFAULT_CORPUS_SEED;
    Tokenizer t = build(new World(), seed, n);
    write(t, out);
    System.out.println(
        "wrote tokenizer to "
            + out
            + ": "
            + t.size()
            + " ids ("
            + t.merges().size()
            + " merges), bos "
            + t.bosId()
            + ", eos/pad/unk "
            + t.eosId());
  }

  /** The world's tokenizer, learned from {@code world.captions(seed, n)}. */
  public static Tokenizer build(World world, long seed, int n) {
    Set<String> targets = new TreeSet<>(world.vocabulary());
    targets.addAll(GENERIC_WORDS);
    return build(world.captions(seed, n), targets);
  }

  /**
   * Learns merges over the words of {@code corpus} (each target counted once more, so that a target
   * missing from the corpus is still learned) until every target is a single token.
   */
  public static Tokenizer build(List<String> corpus, Set<String> targets) {
    // Word counts in a sorted map, so that the iteration order (and so the result) is fixed.
    Map<String, Integer> counts = new TreeMap<>();
    for (String caption : corpus) {
      for (String w : preTokens(caption)) {
        counts.merge(w, 1, Integer::sum);
      }
    }
    for (String target : targets) {
      List<String> pre = preTokens(target);
      if (pre.size() != 1 || !pre.get(0).equals(target.toLowerCase(Locale.ROOT))) {
        throw new IllegalArgumentException("target '" + target + "' is not one lower-case word");
      }
      counts.merge(pre.get(0), 1, Integer::sum);
    }
    List<List<String>> words = new ArrayList<>();
    List<Integer> freq = new ArrayList<>();
    List<Boolean> isTarget = new ArrayList<>();
    counts.forEach(
        (w, c) -> {
          words.add(new ArrayList<>(symbols(w)));
          freq.add(c);
          isTarget.add(targets.contains(w));
        });

    List<String[]> merges = new ArrayList<>();
    while (true) {
      boolean done = true;
      for (int i = 0; i < words.size(); i++) {
        if (isTarget.get(i) && words.get(i).size() > 1) {
          done = false;
          break;
        }
      }
      if (done) {
        break;
      }
      // Pair frequencies over all words; the sorted map gives the lexicographic tie-break.
      TreeMap<String[], Integer> pairs = new TreeMap<>(TokenizerBuilder::comparePairs);
      for (int i = 0; i < words.size(); i++) {
        List<String> s = words.get(i);
        for (int j = 0; j + 1 < s.size(); j++) {
          pairs.merge(new String[] {s.get(j), s.get(j + 1)}, freq.get(i), Integer::sum);
        }
      }
      String[] best = null;
      int bestCount = 0;
      for (Map.Entry<String[], Integer> e : pairs.entrySet()) {
        if (e.getValue() > bestCount) { // strictly greater: the first (smallest) pair wins ties
          best = e.getKey();
          bestCount = e.getValue();
        }
      }
      merges.add(best);
      for (List<String> s : words) {
        for (int j = 0; j + 1 < s.size(); j++) {
          if (s.get(j).equals(best[0]) && s.get(j + 1).equals(best[1])) {
            s.set(j, best[0] + best[1]);
            s.remove(j + 1);
          }
        }
      }
    }

    Map<String, Integer> vocab = new LinkedHashMap<>();
    for (char c : VOCAB_ORDER) {
      vocab.put(String.valueOf(c), vocab.size());
    }
    for (char c : VOCAB_ORDER) {
      vocab.put(c + END, vocab.size());
    }
    for (String[] m : merges) {
      vocab.putIfAbsent(m[0] + m[1], vocab.size());
    }
    vocab.put(BOS, vocab.size());
    vocab.put(EOS, vocab.size());
    return new Tokenizer(Collections.unmodifiableMap(vocab), List.copyOf(merges));
  }

  /** Writes the four files of a diffusers {@code tokenizer/} folder (created if needed). */
  public static void write(Tokenizer t, Path dir) throws IOException {
    Files.createDirectories(dir);
    // vocab.json as HF's CLIPTokenizer saves it: keys sorted, indent 2, UTF-8 (not \\u-escaped).
    StringBuilder v = new StringBuilder("{\n");
    List<String> keys = new ArrayList<>(t.vocab().keySet());
    keys.sort(TokenizerBuilder::compareCodePoints);
    for (int i = 0; i < keys.size(); i++) {
      v.append("  ")
          .append(quote(keys.get(i)))
          .append(": ")
          .append(t.vocab().get(keys.get(i)))
          .append(i + 1 < keys.size() ? ",\n" : "\n");
    }
    v.append("}\n");
    Files.writeString(dir.resolve("vocab.json"), v, StandardCharsets.UTF_8);

    StringBuilder m = new StringBuilder("#version: 0.2\n");
    for (String[] merge : t.merges()) {
      m.append(merge[0]).append(' ').append(merge[1]).append('\n');
    }
    Files.writeString(dir.resolve("merges.txt"), m, StandardCharsets.UTF_8);

    String cfg =
        "{\n"
            + "  \"added_tokens_decoder\": {\n"
            + "    \""
            + t.bosId()
            + "\": "
            + addedToken(BOS, "    ")
            + ",\n"
            + "    \""
            + t.eosId()
            + "\": "
            + addedToken(EOS, "    ")
            + "\n"
            + "  },\n"
            + "  \"bos_token\": "
            + quote(BOS)
            + ",\n"
            + "  \"clean_up_tokenization_spaces\": true,\n"
            + "  \"eos_token\": "
            + quote(EOS)
            + ",\n"
            + "  \"errors\": \"replace\",\n"
            + "  \"model_max_length\": "
            + MODEL_MAX_LENGTH
            + ",\n"
            + "  \"pad_token\": "
            + quote(EOS)
            + ",\n"
            + "  \"tokenizer_class\": \"CLIPTokenizer\",\n"
            + "  \"unk_token\": "
            + quote(EOS)
            + "\n"
            + "}\n";
    Files.writeString(dir.resolve("tokenizer_config.json"), cfg, StandardCharsets.UTF_8);

    String special =
        "{\n"
            + "  \"bos_token\": "
            + tokenObject(BOS, "  ")
            + ",\n"
            + "  \"eos_token\": "
            + tokenObject(EOS, "  ")
            + ",\n"
            + "  \"pad_token\": "
            + quote(EOS)
            + ",\n"
            + "  \"unk_token\": "
            + tokenObject(EOS, "  ")
            + "\n"
            + "}\n";
    Files.writeString(dir.resolve("special_tokens_map.json"), special, StandardCharsets.UTF_8);
  }

  /** CLIP pre-tokens of a text: lower-cased, whitespace-collapsed, split by CLIP's regex. */
  static List<String> preTokens(String text) {
    String s = text.strip().replaceAll("\\s+", " ").toLowerCase(Locale.ROOT);
    List<String> out = new ArrayList<>();
    Matcher m = SPLIT.matcher(s);
    while (m.find()) {
      out.add(m.group());
    }
    return out;
  }

  /** A pre-token as byte symbols, the last with {@code </w>}. */
  static List<String> symbols(String word) {
    byte[] bytes = word.getBytes(StandardCharsets.UTF_8);
    List<String> s = new ArrayList<>(bytes.length);
    for (byte b : bytes) {
      s.add(String.valueOf(BYTE_TO_UNICODE[b & 0xff]));
    }
    s.set(s.size() - 1, s.get(s.size() - 1) + END);
    return s;
  }

  /** GPT-2/CLIP bytes_to_unicode, as an array in vocabulary order: index = id, value = symbol. */
  private static char[] byteToUnicode() {
    List<Integer> bs = new ArrayList<>();
    for (int b = '!'; b <= '~'; b++) {
      bs.add(b);
    }
    for (int b = 0xA1; b <= 0xAC; b++) {
      bs.add(b);
    }
    for (int b = 0xAE; b <= 0xFF; b++) {
      bs.add(b);
    }
    List<Integer> cs = new ArrayList<>(bs);
    int n = 0;
    for (int b = 0; b < 256; b++) {
      if (!bs.contains(b)) {
        bs.add(b);
        cs.add(256 + n++);
      }
    }
    // Indexed by byte value for symbols(); vocabulary order is the order of bs.
    char[] byByte = new char[256];
    for (int i = 0; i < 256; i++) {
      byByte[bs.get(i)] = (char) (int) cs.get(i);
    }
    for (int i = 0; i < 256; i++) {
      VOCAB_ORDER[i] = (char) (int) cs.get(i);
    }
    return byByte;
  }

  private static int comparePairs(String[] a, String[] b) {
    int c = compareCodePoints(a[0], b[0]);
    return c != 0 ? c : compareCodePoints(a[1], b[1]);
  }

  private static int compareCodePoints(String a, String b) {
    return Arrays.compare(a.codePoints().toArray(), b.codePoints().toArray());
  }

  private static String addedToken(String content, String indent) {
    return "{\n"
        + indent
        + "  \"content\": "
        + quote(content)
        + ",\n"
        + indent
        + "  \"lstrip\": false,\n"
        + indent
        + "  \"normalized\": true,\n"
        + indent
        + "  \"rstrip\": false,\n"
        + indent
        + "  \"single_word\": false,\n"
        + indent
        + "  \"special\": true\n"
        + indent
        + "}";
  }

  private static String tokenObject(String content, String indent) {
    return "{\n"
        + indent
        + "  \"content\": "
        + quote(content)
        + ",\n"
        + indent
        + "  \"lstrip\": false,\n"
        + indent
        + "  \"normalized\": true,\n"
        + indent
        + "  \"rstrip\": false,\n"
        + indent
        + "  \"single_word\": false\n"
        + indent
        + "}";
  }

  private static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        default -> {
          if (c < 0x20) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.append('"').toString();
  }
}
