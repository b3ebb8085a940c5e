package org.perfusionjobs.engine.clip;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;
import org.perfusionjobs.engine.io.ModelLoadException;

/**
 * CLIP's byte-level BPE tokenizer, built from a checkpoint's {@code tokenizer/} folder (vocab.json,
 * merges.txt, special tokens from tokenizer_config.json / special_tokens_map.json) and run by DJL's
 * HuggingFace tokenizers: we translate the files into the equivalent {@code tokenizer.json} (NFC,
 * whitespace collapse, lower case; CLIP's split regex; byte-level alphabet; BPE with the {@code
 * </w>} end-of-word suffix) and let the native library tokenize.
 *
 * <p>Sequences follow the SD pipeline: start token, content, end token, padded with the pad token
 * to 77; content beyond 75 tokens is cut. Words added with {@link #withAddedTokens} are single new
 * tokens (ids from the vocabulary size on) that are never split. Immutable and thread-safe.
 */
public final class ClipTokenizer implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String SPLIT =
      "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

  private final Map<String, Integer> vocab;
  private final List<String> merges;
  private final List<String> added; // lower-cased added words, id = vocab.size() + index
  private final int bos;
  private final int eos;
  private final int pad;
  private final int maxLength;
  private final HuggingFaceTokenizer native_;

  private ClipTokenizer(
      Map<String, Integer> vocab,
      List<String> merges,
      List<String> added,
      int bos,
      int eos,
      int pad,
      int maxLength)
      throws IOException {
    this.vocab = vocab;
    this.merges = merges;
    this.added = List.copyOf(added);
    this.bos = bos;
    this.eos = eos;
    this.pad = pad;
    this.maxLength = maxLength;
    byte[] json = JSON.writeValueAsBytes(tokenizerJson());
    this.native_ =
        HuggingFaceTokenizer.newInstance(
            new ByteArrayInputStream(json),
            Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false"));
  }

  /** Reads vocab.json, merges.txt and the special tokens of a tokenizer folder. */
  public static ClipTokenizer load(Path dir) throws IOException {
    Path vocabFile = dir.resolve("vocab.json");
    Path mergesFile = dir.resolve("merges.txt");
    for (Path p : List.of(vocabFile, mergesFile)) {
      if (!Files.isRegularFile(p)) {
        throw new ModelLoadException("tokenizer folder " + dir + " has no " + p.getFileName());
      }
    }
    Map<String, Integer> vocab = new LinkedHashMap<>();
    JSON.readTree(vocabFile.toFile())
        .fields()
        .forEachRemaining(e -> vocab.put(e.getKey(), e.getValue().asInt()));
    List<String> merges = new ArrayList<>();
    for (String line : Files.readAllLines(mergesFile, StandardCharsets.UTF_8)) {
      if (!line.isBlank() && !line.startsWith("#version")) {
        merges.add(line.strip());
      }
    }
    JsonNode cfg = readJson(dir.resolve("tokenizer_config.json"));
    JsonNode special = readJson(dir.resolve("special_tokens_map.json"));
    String bosToken = tokenText(cfg, special, "bos_token", "<|startoftext|>");
    String eosToken = tokenText(cfg, special, "eos_token", "<|endoftext|>");
    String padToken = tokenText(cfg, special, "pad_token", eosToken);
    int maxLength = cfg.path("model_max_length").asInt(77);
    if (maxLength < 3 || maxLength > 1024) {
      maxLength = 77; // some configs store a huge sentinel here
    }
    return new ClipTokenizer(
        vocab,
        merges,
        List.of(),
        id(vocab, bosToken, dir),
        id(vocab, eosToken, dir),
        id(vocab, padToken, dir),
        maxLength);
  }

  private static JsonNode readJson(Path p) throws IOException {
    return Files.isRegularFile(p) ? JSON.readTree(p.toFile()) : JSON.createObjectNode();
  }

  private static String tokenText(JsonNode cfg, JsonNode special, String key, String fallback) {
    for (JsonNode n : List.of(special.path(key), cfg.path(key))) {
      if (n.isTextual()) {
        return n.asText();
      }
      if (n.path("content").isTextual()) {
        return n.path("content").asText();
      }
    }
    return fallback;
  }

  private static int id(Map<String, Integer> vocab, String token, Path dir)
      throws ModelLoadException {
    Integer id = vocab.get(token);
    if (id == null) {
      throw new ModelLoadException(
          "tokenizer folder " + dir + ": special token '" + token + "' is not in vocab.json");
    }
    return id;
  }

  /**
   * A tokenizer in which each word is one new token, id vocabSize() + i, never split. Matching is
   * case-insensitive (text is lower-cased first) and on whole words only.
   */
  public ClipTokenizer withAddedTokens(List<String> words) {
    List<String> all = new ArrayList<>(added);
    for (String w : words) {
      String lw = w.toLowerCase(Locale.ROOT);
      if (lw.isBlank() || lw.chars().anyMatch(Character::isWhitespace)) {
        throw new IllegalArgumentException(
            "added token '" + w + "' must be one word without spaces");
      }
      if (!all.contains(lw)) {
        all.add(lw);
      }
    }
    try {
      return new ClipTokenizer(vocab, merges, all, bos, eos, pad, maxLength);
    } catch (IOException e) {
      throw new IllegalStateException("could not build tokenizer with added tokens " + words, e);
    }
  }

  /** The id of a word added with {@link #withAddedTokens}. */
  public int addedTokenId(String word) {
    int i = added.indexOf(word.toLowerCase(Locale.ROOT));
    if (i < 0) {
      throw new IllegalArgumentException("'" + word + "' is not an added token of this tokenizer");
    }
    return vocab.size() + i;
  }

  /** Exactly maxLength() ids: start, content (at most maxLength - 2), end, padding. */
  public long[] encode(String text) {
    long[] content = native_.encode(text, false, false).getIds();
    long[] ids = new long[maxLength];
    Arrays.fill(ids, pad);
    ids[0] = bos;
    int n = Math.min(content.length, maxLength - 2);
    System.arraycopy(content, 0, ids, 1, n);
    ids[n + 1] = eos;
    return ids;
  }

  /** (B, maxLength) int64 ids. */
  public NDArray encode(List<String> texts, NDManager m) {
    long[] flat = new long[texts.size() * maxLength];
    for (int i = 0; i < texts.size(); i++) {
      System.arraycopy(encode(texts.get(i)), 0, flat, i * maxLength, maxLength);
    }
    return m.create(flat, new Shape(texts.size(), maxLength));
  }

  /** The BPE pieces of a text, without start and end tokens. */
  public List<String> tokens(String text) {
    return List.of(native_.encode(text, false, false).getTokens());
  }

  /** The ids a word (or phrase) becomes, without start and end tokens. */
  public List<Integer> idsOfWord(String word) {
    List<Integer> out = new ArrayList<>();
    for (long id : native_.encode(word, false, false).getIds()) {
      out.add((int) id);
    }
    return out;
  }

  /** The id of a word that is one single token, if it is. */
  public OptionalInt tokenId(String word) {
    List<Integer> ids = idsOfWord(word);
    return ids.size() == 1 ? OptionalInt.of(ids.get(0)) : OptionalInt.empty();
  }

  /** Base vocabulary size (added tokens not included). */
  public int vocabSize() {
    return vocab.size();
  }

  public int addedTokenCount() {
    return added.size();
  }

  public int bosId() {
    return bos;
  }

  public int eosId() {
    return eos;
  }

  public int padId() {
    return pad;
  }

  public int maxLength() {
    return maxLength;
  }

  private ObjectNode tokenizerJson() {
    ObjectNode root = JSON.createObjectNode();
    root.put("version", "1.0");
    root.putNull("truncation");
    root.putNull("padding");
    ArrayNode addedTokens = root.putArray("added_tokens");
    String bosText = textOf(bos);
    String eosText = textOf(eos);
    addedToken(addedTokens, bos, bosText, true, false);
    if (eos != bos) {
      addedToken(addedTokens, eos, eosText, true, false);
    }
    for (int i = 0; i < added.size(); i++) {
      addedToken(addedTokens, vocab.size() + i, added.get(i), false, true);
    }
    ObjectNode normalizer = root.putObject("normalizer");
    normalizer.put("type", "Sequence");
    ArrayNode norms = normalizer.putArray("normalizers");
    norms.addObject().put("type", "NFC");
    ObjectNode ws = norms.addObject();
    ws.put("type", "Replace");
    ws.putObject("pattern").put("Regex", "\\s+");
    ws.put("content", " ");
    norms.addObject().put("type", "Lowercase");
    ObjectNode pre = root.putObject("pre_tokenizer");
    pre.put("type", "Sequence");
    ArrayNode pres = pre.putArray("pretokenizers");
    ObjectNode split = pres.addObject();
    split.put("type", "Split");
    split.putObject("pattern").put("Regex", SPLIT);
    split.put("behavior", "Removed");
    split.put("invert", true);
    ObjectNode bl = pres.addObject();
    bl.put("type", "ByteLevel");
    bl.put("add_prefix_space", false);
    bl.put("trim_offsets", true);
    bl.put("use_regex", false);
    root.putNull("post_processor");
    ObjectNode dec = root.putObject("decoder");
    dec.put("type", "ByteLevel");
    dec.put("add_prefix_space", false);
    dec.put("trim_offsets", true);
    dec.put("use_regex", false);
    ObjectNode model = root.putObject("model");
    model.put("type", "BPE");
    model.putNull("dropout");
    model.put("unk_token", eosText);
    model.put("continuing_subword_prefix", "");
    model.put("end_of_word_suffix", "</w>");
    model.put("fuse_unk", false);
    model.put("byte_fallback", false);
    ObjectNode v = model.putObject("vocab");
    vocab.forEach(v::put);
    ArrayNode m = model.putArray("merges");
    merges.forEach(m::add);
    return root;
  }

  private String textOf(int id) {
    return vocab.entrySet().stream()
        .filter(e -> e.getValue() == id)
        .map(Map.Entry::getKey)
        .findFirst()
        .orElseThrow();
  }

  private static void addedToken(
      ArrayNode arr, int id, String content, boolean special, boolean singleWord) {
    ObjectNode t = arr.addObject();
    t.put("id", id);
    t.put("content", content);
    t.put("single_word", singleWord);
    t.put("lstrip", false);
    t.put("rstrip", false);
    t.put("normalized", !special);
    t.put("special", special);
  }

  @Override
  public void close() {
    native_.close();
  }
}
