// Hostile inputs: every malformed file gives its own error (naming the file, the offset and the field), never a
// crash, a huge allocation or an abort. Ends with truncation at every byte and seeded random mutations.
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "gtest/gtest.h"

namespace ondi {
namespace {

constexpr uint64_t kHuge63 = uint64_t{1} << 63;

// Little-endian byte builder for hand-made files.
struct Bytes {
  std::vector<uint8_t> b;
  Bytes& u8(uint8_t v) {
    b.push_back(v);
    return *this;
  }
  Bytes& u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  Bytes& u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }
  Bytes& str(std::string_view s) {
    u64(s.size());
    b.insert(b.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& zeros(size_t n) {
    b.resize(b.size() + n, 0);
    return *this;
  }
  Bytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    for (char c : std::string_view("GGUF")) b.push_back(static_cast<uint8_t>(c));
    u32(version);
    u64(n_tensors);
    return u64(n_kv);
  }
  Bytes& kv_u32(std::string_view key, uint32_t v) { return str(key).u32(4).u32(v); }
  Bytes& tensor(std::string_view name, const std::vector<uint64_t>& ne, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(ne.size()));
    for (uint64_t n : ne) u64(n);
    return u32(type).u64(offset);
  }
  Bytes& pad_to(size_t a) {
    b.resize((b.size() + a - 1) / a * a, 0);
    return *this;
  }
  size_t size() const { return b.size(); }
};

Status parse_status(const std::vector<uint8_t>& bytes, const char* name = "bad.gguf") {
  auto r = GgufFile::from_memory(bytes.data(), bytes.size(), name);
  return r.ok() ? Status::Ok() : r.status();
}

void expect_error(const Bytes& bytes, Errc code, const std::vector<std::string>& parts) {
  const Status s = parse_status(bytes.b);
  ASSERT_FALSE(s.ok()) << "parsed a malformed file";
  EXPECT_EQ(s.code(), code) << s.message();
  EXPECT_EQ(s.message().rfind("bad.gguf: ", 0), 0u) << s.message();
  for (const auto& p : parts)
    EXPECT_NE(s.message().find(p), std::string::npos) << "missing '" << p << "' in: " << s.message();
}

void expect_ok(const Bytes& bytes) {
  const Status s = parse_status(bytes.b);
  EXPECT_TRUE(s.ok()) << s.message();
}

TEST(GgufMalformed, TooSmallAndBadMagic) {
  expect_error(Bytes{}, Errc::format, {"offset 0", "too small"});
  expect_error(Bytes{{'G', 'G', 'U'}}, Errc::format, {"offset 0", "too small"});
  Bytes bad;
  bad.b = {'G', 'G', 'M', 'L', 3, 0, 0, 0};
  expect_error(bad, Errc::format, {"offset 0", "bad magic 47 47 4D 4C"});
  expect_error(Bytes{{'G', 'G', 'U', 'F', 3}}, Errc::format, {"offset 4", "version", "needs 4 bytes, 1 left"});
}

TEST(GgufMalformed, Versions) {
  expect_error(Bytes().header(0, 0, 1), Errc::unsupported, {"offset 4", "unsupported GGUF version 1"});
  expect_error(Bytes().header(0, 0, 4), Errc::unsupported, {"unsupported GGUF version 4"});
  expect_error(Bytes().header(0, 0, 0), Errc::unsupported, {"unsupported GGUF version 0"});
  // A big-endian writer stores version 3 as 00 00 00 03.
  expect_error(Bytes().header(0, 0, 0x03000000u), Errc::unsupported, {"offset 4", "big-endian"});
  expect_error(Bytes().header(0, 0, 0x02000000u), Errc::unsupported, {"big-endian"});
  expect_ok(Bytes().header(0, 0, 2));
  expect_ok(Bytes().header(0, 0, 3));
}

TEST(GgufMalformed, HugeCounts) {
  expect_error(Bytes().header(uint64_t{1} << 62, 0).zeros(1000), Errc::format,
               {"offset 8", "tensor count 4611686018427387904 cannot fit in the 1000 bytes left"});
  expect_error(Bytes().header(0, ~uint64_t{0}).zeros(1000), Errc::format,
               {"offset 16", "metadata count 18446744073709551615"});
  // Counts that fit the file size but not the bytes left after the metadata.
  expect_error(Bytes().header(3, 1).kv_u32("a", 1).zeros(80), Errc::format, {"offset 8", "tensor count 3"});
  // Header cut short.
  Bytes cut = Bytes().header(0, 0);
  cut.b.erase(cut.b.end() - 3, cut.b.end());
  expect_error(cut, Errc::format, {"offset 16", "metadata count", "needs 8 bytes, 5 left"});
}

TEST(GgufMalformed, HugeStringLengths) {
  expect_error(Bytes().header(0, 1).u64(kHuge63).zeros(1000), Errc::format,
               {"offset 24", "metadata key length 9223372036854775808 exceeds the 1000 bytes left"});
  expect_error(Bytes().header(0, 1).str("k").u32(8).u64(kHuge63).zeros(1000), Errc::format,
               {"offset 37", "key 'k'", "string length 9223372036854775808"});
  expect_error(Bytes().header(0, 1).str("k").u32(8).u64(1001).zeros(1000), Errc::format,
               {"offset 37", "string length 1001 exceeds the 1000 bytes left"});
  // Inside a string array: names the item.
  expect_error(Bytes().header(0, 1).str("toks").u32(9).u32(8).u64(3).str("a").str("b").u64(kHuge63).zeros(100),
               Errc::format, {"key 'toks'", "array item 2: string length 9223372036854775808"});
  // Tensor name.
  expect_error(Bytes().header(1, 0).u64(~uint64_t{0}).zeros(1000), Errc::format, {"offset 24", "tensor name length"});
}

TEST(GgufMalformed, HugeArrayCounts) {
  expect_error(Bytes().header(0, 1).str("k").u32(9).u32(4).u64(uint64_t{1} << 60).zeros(1000), Errc::format,
               {"offset 41", "key 'k'", "array of 1152921504606846976 UINT32 items", "1000 bytes left"});
  expect_error(Bytes().header(0, 1).str("k").u32(9).u32(8).u64(~uint64_t{0}).zeros(1000), Errc::format,
               {"array of 18446744073709551615 STRING items"});
  expect_error(Bytes().header(0, 1).str("k").u32(9).u32(9).u64(kHuge63).zeros(1000), Errc::format,
               {"array of 9223372036854775808 ARRAY items"});
  expect_error(Bytes().header(0, 1).str("k").u32(9).u32(0).u64(1001).zeros(1000), Errc::format,
               {"array of 1001 UINT8 items"});
  // Nested: the inner count is checked against what is left too.
  expect_error(Bytes().header(0, 1).str("k").u32(9).u32(9).u64(1).u32(12).u64(uint64_t{1} << 61).zeros(100),
               Errc::format, {"offset 53", "array of 2305843009213693952 FLOAT64 items"});
}

TEST(GgufMalformed, BadValues) {
  expect_error(Bytes().header(0, 1).str("k").u32(13).zeros(20), Errc::format,
               {"offset 33", "key 'k'", "value type 13 is not a GGUF value type"});
  expect_error(Bytes().header(0, 1).str("k").u32(9).u32(77).u64(1).zeros(20), Errc::format,
               {"offset 37", "array element type 77"});
  expect_error(Bytes().header(0, 1).str("k").u32(7).u8(2).zeros(20), Errc::format,
               {"offset 37", "BOOL value is 2, expected 0 or 1"});
  expect_error(Bytes().header(0, 1).str("k").u32(9).u32(7).u64(3).u8(1).u8(0).u8(9).zeros(20), Errc::format,
               {"offset 51", "array item 2: BOOL value is 9"});
  expect_error(Bytes().header(0, 1).str("").u32(4).u32(1), Errc::format, {"offset 24", "empty metadata key"});
  expect_error(Bytes().header(0, 2).kv_u32("a.b", 1).kv_u32("a.b", 2), Errc::format,
               {"offset 43", "duplicate metadata key 'a.b'"});
  expect_error(Bytes().header(0, 1).str("k").u32(6).u8(0).u8(0), Errc::format,
               {"offset 37", "unexpected end of file reading FLOAT32 value (needs 4 bytes, 2 left)"});
}

TEST(GgufMalformed, NestingDepth) {
  auto nested = [](int depth) {
    Bytes b;
    b.header(0, 1).str("deep").u32(9);
    for (int i = 1; i < depth; ++i) b.u32(9).u64(1);
    b.u32(4).u64(1).u32(7);
    return b;
  };
  expect_ok(nested(kGgufMaxArrayDepth));
  expect_error(nested(kGgufMaxArrayDepth + 1), Errc::format, {"key 'deep'", "nested deeper than 8 levels"});
  // A long chain of nesting headers must not recurse without bound.
  expect_error(nested(100000), Errc::format, {"nested deeper than 8 levels"});
}

TEST(GgufMalformed, Alignment) {
  expect_error(Bytes().header(0, 1).kv_u32("general.alignment", 0), Errc::format,
               {"offset 53", "general.alignment is 0, expected a non-zero power of two"});
  expect_error(Bytes().header(0, 1).kv_u32("general.alignment", 48), Errc::format, {"general.alignment is 48"});
  expect_error(Bytes().header(0, 1).str("general.alignment").u32(5).u32(64), Errc::format,
               {"offset 49", "general.alignment must be UINT32, got INT32"});
  // A valid non-default alignment governs the tensor offsets.
  Bytes b;
  b.header(1, 1).kv_u32("general.alignment", 64).tensor("w", {8}, 0, 32).pad_to(64).zeros(64);
  expect_error(b, Errc::format, {"tensor 'w': data offset 32 is not a multiple of the alignment 64"});
  Bytes ok;
  ok.header(1, 1).kv_u32("general.alignment", 64).tensor("w", {8}, 0, 0).pad_to(64).zeros(32);
  expect_ok(ok);
  auto f = GgufFile::from_memory(ok.b.data(), ok.size(), "ok");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->alignment(), 64u);
  EXPECT_EQ((*f)->data_offset(), 128u);
}

// One tensor "w" at data offset `offset`, followed by `data` bytes of data section.
Bytes one_tensor(const std::vector<uint64_t>& ne, uint32_t type, uint64_t offset, size_t data) {
  Bytes b;
  b.header(1, 0).tensor("w", ne, type, offset).pad_to(32).zeros(data);
  return b;
}

TEST(GgufMalformed, TensorInfos) {
  expect_ok(one_tensor({4, 2}, 0, 0, 32));
  expect_error(one_tensor({}, 0, 0, 32), Errc::format, {"offset 33", "tensor 'w': n_dims is 0, expected 1..4"});
  expect_error(one_tensor({1, 1, 1, 1, 1}, 0, 0, 32), Errc::format, {"offset 33", "n_dims is 5"});
  Bytes huge_dims;
  huge_dims.header(1, 0).str("w").u32(0xFFFFFFFFu).zeros(100);
  expect_error(huge_dims, Errc::format, {"offset 33", "n_dims is 4294967295"});
  expect_error(one_tensor({kHuge63}, 0, 0, 32), Errc::format,
               {"offset 37", "ne[0] = 9223372036854775808 is too large"});
  expect_error(one_tensor({uint64_t{1} << 32, uint64_t{1} << 30, 4}, 0, 0, 32), Errc::format,
               {"offset 53", "tensor 'w': element count overflows (ne[2] = 4)"});
  expect_error(one_tensor({0, uint64_t{1} << 40, uint64_t{1} << 40}, 0, 0, 32), Errc::format,
               {"element count overflows (ne[2]"});
  expect_error(one_tensor({uint64_t{1} << 62}, 0, 0, 32), Errc::format, {"tensor 'w': byte size overflows"});
  expect_error(one_tensor({8}, 99, 0, 32), Errc::unsupported, {"offset 45", "tensor 'w': unknown type 99"});
  expect_error(one_tensor({8}, 4, 0, 32), Errc::unsupported, {"unknown type 4"});  // Q4_2: removed from GGUF
  expect_error(one_tensor({33}, 2, 0, 32), Errc::format, {"ne[0] = 33 is not a multiple of the Q4_0 block size 32"});
  expect_error(one_tensor({100}, 12, 0, 4096), Errc::format, {"block size 256"});
  expect_error(one_tensor({8}, 0, 1, 64), Errc::format,
               {"offset 49", "tensor 'w': data offset 1 is not a multiple of the alignment 32"});
  // Header cut inside the shape.
  Bytes cut;
  cut.header(1, 0).str("w").u32(4).u64(8).u64(8).u64(8);
  expect_error(cut, Errc::format, {"offset 37", "shape, type and offset of tensor 'w' (needs 44 bytes, 24 left)"});
}

TEST(GgufMalformed, TensorBounds) {
  // 4096 bytes needed, 16 present: the message says where, how much and how big the file is.
  expect_error(one_tensor({1024}, 0, 0, 16), Errc::format,
               {"offset 49", "tensor 'w' extends past end of file (needs 4096 bytes at 64, file is 80)"});
  expect_error(one_tensor({8}, 0, uint64_t{1} << 40, 64), Errc::format,
               {"tensor 'w' extends past end of file", "offset 1099511627776 of the data section"});
  expect_error(one_tensor({8}, 0, ~uint64_t{0} - 31, 64), Errc::format, {"extends past end of file"});
  expect_ok(one_tensor({8}, 0, 32, 64));  // exactly at the end
  expect_error(one_tensor({8}, 0, 64, 64), Errc::format, {"extends past end of file"});
  // The data section itself missing: tensor infos end and the file ends before the padding.
  Bytes no_data;
  no_data.header(1, 0).tensor("w", {8}, 0, 0);
  expect_error(no_data, Errc::format,
               {"offset 57", "data section starts at 64", "past the end of the file (57 bytes)"});
  // A zero-size tensor needs no bytes, and a file without tensors needs no data section.
  expect_ok(one_tensor({0, 8}, 0, 0, 0));
  expect_ok(Bytes().header(0, 1).kv_u32("a", 1));
}

TEST(GgufMalformed, OverlapsAndDuplicates) {
  Bytes overlap;
  overlap.header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {8}, 0, 32).pad_to(32).zeros(128);
  expect_error(overlap, Errc::format,
               {"tensor 'b' (bytes 32..64 of the data section) overlaps tensor 'a' (bytes 0..64)"});
  Bytes same;
  same.header(2, 0).tensor("a", {8}, 0, 0).tensor("b", {8}, 0, 0).pad_to(32).zeros(64);
  expect_error(same, Errc::format, {"overlaps"});
  Bytes adjacent;
  adjacent.header(2, 0).tensor("b", {8}, 0, 32).tensor("a", {8}, 0, 0).pad_to(32).zeros(64);
  expect_ok(adjacent);
  Bytes dup;
  dup.header(2, 0).tensor("a", {8}, 0, 0).tensor("a", {8}, 0, 32).pad_to(32).zeros(64);
  expect_error(dup, Errc::format, {"offset 57", "duplicate tensor 'a'"});
}

TEST(GgufMalformed, MetadataMemoryIsCapped) {
  // Empty nested arrays take 12 bytes on disk but a whole GgufValue in memory: enough of them would need
  // more than the metadata cap. The reader refuses before allocating.
  const uint64_t n = (uint64_t{1} << 30) / sizeof(GgufValue) + 1;
  Bytes b;
  b.header(0, 1).str("k").u32(9).u32(9).u64(n);
  b.zeros(static_cast<size_t>(n) * 12);
  expect_error(b, Errc::unsupported, {"offset 37", "key 'k'", "metadata would need more than 1024 MiB"});
}

// A small valid file exercising every section: scalar and array metadata, nesting, and two tensors.
std::vector<uint8_t> small_valid_file() {
  GgufWriter w;
  w.set_str("general.architecture", "llama");
  w.set_u32("llama.block_count", 2);
  w.set_f32("llama.rope.freq_base", 10000.0f);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set_arr_str("tokenizer.ggml.tokens", {"<s>", "a", "bc", "\xE2\x96\x81x"});
  w.set_arr_i32("tokenizer.ggml.token_type", {3, 1, 1, 1});
  w.set("nested", GgufValue::make_arr_nested(
                      {GgufValue::make_arr_int(GgufValueType::UINT16, {1, 2}), GgufValue::make_arr_str({"z"})}));
  w.set("i64", GgufValue::make_int(GgufValueType::INT64, -7));
  std::vector<uint8_t> d1(16), d2(34);
  for (size_t i = 0; i < d1.size(); ++i) d1[i] = static_cast<uint8_t>(i);
  for (size_t i = 0; i < d2.size(); ++i) d2[i] = static_cast<uint8_t>(i * 3);
  EXPECT_TRUE(w.add_tensor("a.weight", GgmlType::F32, {4}, d1).ok());
  EXPECT_TRUE(w.add_tensor("b.weight", GgmlType::Q8_0, {32}, d2).ok());
  return w.to_bytes();
}

TEST(GgufMalformed, TruncationAtEveryOffset) {
  const std::vector<uint8_t> full = small_valid_file();
  ASSERT_TRUE(parse_status(full).ok());
  for (size_t len = 0; len < full.size(); ++len) {
    // An exact-size copy, so that a read past the end is a read past an allocation.
    const std::vector<uint8_t> prefix(full.begin(), full.begin() + static_cast<ptrdiff_t>(len));
    const Status s = parse_status(prefix, "trunc.gguf");
    ASSERT_FALSE(s.ok()) << "prefix of " << len << " bytes parsed";
    EXPECT_EQ(s.code(), Errc::format) << s.message();
    EXPECT_EQ(s.message().rfind("trunc.gguf: offset ", 0), 0u) << s.message();
    const bool says_what =
        s.message().find("unexpected end of file") != std::string::npos ||
        s.message().find("exceeds") != std::string::npos || s.message().find("does not fit") != std::string::npos ||
        s.message().find("cannot fit") != std::string::npos || s.message().find("past the end") != std::string::npos ||
        s.message().find("past end") != std::string::npos || s.message().find("too small") != std::string::npos;
    EXPECT_TRUE(says_what) << len << ": " << s.message();
  }
}

// Reads everything a consumer would, so that a bad result from a mutated file shows up as a crash here.
size_t touch_everything(const GgufFile& f) {
  size_t acc = 0;
  for (const auto& kv : f.metadata()) acc += kv.value.to_string(4).size() + kv.value.array_size();
  for (const auto& t : f.tensors()) {
    EXPECT_LE(f.data_offset() + t.offset + t.n_bytes, f.file_size());
    EXPECT_GE(t.n_elements(), 0);
    if (t.n_bytes) acc += f.tensor_data(t)[0] + f.tensor_data(t)[t.n_bytes - 1];
    EXPECT_EQ(f.find_tensor(t.name), &t);
  }
  return acc;
}

TEST(GgufMalformed, RandomMutationsNeverCrash) {
  const std::vector<uint8_t> full = small_valid_file();
  std::mt19937_64 rng(20250214);
  const uint64_t interesting[] = {
      0, 1,  2,  0x7F, 0x80, 0xFF, 0xFFFF, 0xFFFFFFFFull, uint64_t{1} << 31, uint64_t{1} << 32, kHuge63, ~uint64_t{0},
      9, 12, 13, 31,   32,   33};
  constexpr int kIters = 20000;
  int n_ok = 0;
  size_t sink = 0;
  for (int iter = 0; iter < kIters; ++iter) {
    std::vector<uint8_t> m = full;
    const int n_edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < n_edits; ++e) {
      const size_t at = rng() % m.size();
      switch (rng() % 4) {
        case 0:  // flip one bit
          m[at] ^= static_cast<uint8_t>(1u << (rng() % 8));
          break;
        case 1:  // random byte
          m[at] = static_cast<uint8_t>(rng());
          break;
        case 2: {  // a boundary value over a (possibly unaligned) 8-byte field
          const uint64_t v = interesting[rng() % std::size(interesting)];
          for (size_t i = 0; i < 8 && at + i < m.size(); ++i) m[at + i] = static_cast<uint8_t>(v >> (8 * i));
          break;
        }
        default:  // cut the file
          m.resize(at);
          if (m.empty()) m.push_back(0);
          break;
      }
    }
    auto r = GgufFile::from_memory(m.data(), m.size(), "fuzz.gguf");
    if (r.ok()) {
      ++n_ok;
      sink += touch_everything(**r);
    } else {
      EXPECT_FALSE(r.status().message().empty());
      EXPECT_NE(r.status().code(), Errc::internal) << r.status().message();
    }
  }
  // Flips inside tensor data and string contents stay valid; most edits in the header do not.
  EXPECT_GT(n_ok, 0);
  EXPECT_LT(n_ok, kIters);
  RecordProperty("parsed_ok", n_ok);
  (void)sink;
}

}  // namespace
}  // namespace ondi
