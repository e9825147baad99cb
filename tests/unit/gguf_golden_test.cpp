// The reader against real GGUF files written by the ecosystem's own tools (see ONDI_GOLDEN_DIR/FORMAT.md).
#include <sys/stat.h>

#include <chrono>
#include <map>
#include <set>
#include <string>

#include "gguf/gguf.h"
#include "gtest/gtest.h"

namespace ondi {
namespace {

std::string golden(const std::string& name) { return std::string(ONDI_GOLDEN_DIR) + "/" + name; }

bool exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

std::unique_ptr<GgufFile> open_golden(const std::string& name) {
  auto r = GgufFile::open(golden(name));
  EXPECT_TRUE(r.ok()) << r.status().message();
  if (!r.ok()) return nullptr;
  return std::move(r).value();
}

// Checks that hold for every well-formed model file.
void check_sane(const GgufFile& f) {
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.data_offset() % f.alignment(), 0u);
  ASSERT_FALSE(f.tensors().empty());
  std::set<std::string> names;
  for (const auto& t : f.tensors()) {
    EXPECT_TRUE(names.insert(t.name).second) << t.name;
    EXPECT_GE(t.n_dims, 1u);
    EXPECT_LE(t.n_dims, 2u) << t.name;  // llama-family weights are vectors and matrices
    const TypeInfo* info = type_info(t.type);
    ASSERT_NE(info, nullptr) << t.name;
    EXPECT_TRUE(info->weight_type) << t.name;
    EXPECT_EQ(t.n_bytes, *row_size(t.type, t.ne[0]) * static_cast<uint64_t>(t.ne[1] * t.ne[2] * t.ne[3]));
    EXPECT_LE(f.data_offset() + t.offset + t.n_bytes, f.file_size()) << t.name;
  }
  EXPECT_EQ(*f.get_str("general.architecture"), f.find("general.architecture")->str);
}

const std::vector<std::string> kMathTypes = {"f32",  "F16",  "BF16",   "Q8_0",   "Q4_0",   "Q4_1", "Q5_0",
                                             "Q5_1", "Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "IQ4_NL"};

TEST(GgufGolden, LlamaMathModelsLoad) {
  if (!exists(golden("llama-math-f32.gguf"))) GTEST_SKIP() << "golden files not found in " << ONDI_GOLDEN_DIR;
  for (const auto& type : kMathTypes) {
    SCOPED_TRACE(type);
    auto f = open_golden("llama-math-" + type + ".gguf");
    ASSERT_TRUE(f);
    check_sane(*f);
    EXPECT_EQ(*f->get_str("general.architecture"), "llama");
    EXPECT_EQ(*f->get_u32("llama.block_count"), 2u);
    EXPECT_EQ(*f->get_u32("llama.embedding_length"), 256u);
    EXPECT_EQ(*f->get_u32("llama.feed_forward_length"), 768u);
    EXPECT_EQ(*f->get_u32("llama.attention.head_count"), 8u);
    EXPECT_EQ(*f->get_u32("llama.attention.head_count_kv"), 2u);
    EXPECT_EQ(*f->get_u32("llama.vocab_size"), 512u);
    EXPECT_FLOAT_EQ(*f->get_f32("llama.rope.freq_base"), 500000.0f);
    EXPECT_FLOAT_EQ(*f->get_f32("llama.attention.layer_norm_rms_epsilon"), 1e-5f);
    EXPECT_EQ(*f->get_str("tokenizer.ggml.model"), "none");
    // token_embd, output_norm, rope_freqs and 9 tensors per layer; tied output: no output.weight.
    EXPECT_EQ(f->tensors().size(), 3u + 2u * 9u);
    EXPECT_EQ(f->find_tensor("output.weight"), nullptr);
    const GgufTensorInfo* emb = f->find_tensor("token_embd.weight");
    ASSERT_NE(emb, nullptr);
    EXPECT_EQ(emb->n_dims, 2u);
    EXPECT_EQ(emb->ne[0], 256);
    EXPECT_EQ(emb->ne[1], 512);
    const GgufTensorInfo* ffn = f->find_tensor("blk.1.ffn_down.weight");
    ASSERT_NE(ffn, nullptr);
    EXPECT_EQ(ffn->ne[0], 768);
    EXPECT_EQ(ffn->ne[1], 256);
    const GgufTensorInfo* k = f->find_tensor("blk.0.attn_k.weight");
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(k->ne[0], 256);
    EXPECT_EQ(k->ne[1], 64);  // 2 KV heads of 32
    // Norms and rope factors stay F32 in every variant.
    for (const char* n : {"output_norm.weight", "rope_freqs.weight", "blk.0.attn_norm.weight"}) {
      const GgufTensorInfo* t = f->find_tensor(n);
      ASSERT_NE(t, nullptr) << n;
      EXPECT_EQ(t->type, GgmlType::F32) << n;
      EXPECT_EQ(t->n_dims, 1u) << n;
    }
    const GgmlType attn_q = f->find_tensor("blk.0.attn_q.weight")->type;
    const std::map<std::string, GgmlType> plain = {{"f32", GgmlType::F32},   {"F16", GgmlType::F16},
                                                   {"BF16", GgmlType::BF16}, {"Q8_0", GgmlType::Q8_0},
                                                   {"Q4_0", GgmlType::Q4_0}, {"IQ4_NL", GgmlType::IQ4_NL}};
    if (plain.count(type)) {
      EXPECT_EQ(attn_q, plain.at(type));
    }
  }
}

TEST(GgufGolden, Q4KMHoldsSeveralBlockTypes) {
  if (!exists(golden("llama-math-Q4_K_M.gguf"))) GTEST_SKIP() << "golden files not found";
  auto f = open_golden("llama-math-Q4_K_M.gguf");
  ASSERT_TRUE(f);
  std::map<GgmlType, int> counts;
  for (const auto& t : f->tensors()) counts[t.type]++;
  EXPECT_GT(counts[GgmlType::Q4_K], 0);
  EXPECT_GT(counts[GgmlType::Q6_K], 0);
  EXPECT_GT(counts[GgmlType::F32], 0);
  EXPECT_EQ(f->find_tensor("token_embd.weight")->type, GgmlType::Q6_K);
  EXPECT_EQ(*f->get_u32("general.quantization_version"), 2u);
}

TEST(GgufGolden, Qwen2MathModelsLoad) {
  if (!exists(golden("qwen2-math-f32.gguf"))) GTEST_SKIP() << "golden files not found";
  for (const char* type : {"f32", "Q8_0", "Q4_K_M"}) {
    SCOPED_TRACE(type);
    auto f = open_golden(std::string("qwen2-math-") + type + ".gguf");
    ASSERT_TRUE(f);
    check_sane(*f);
    EXPECT_EQ(*f->get_str("general.architecture"), "qwen2");
    EXPECT_NE(f->find_tensor("output.weight"), nullptr);
    EXPECT_NE(f->find_tensor("blk.0.attn_q.bias"), nullptr);
  }
}

TEST(GgufGolden, Llama3Tokenizer) {
  if (!exists(golden("llama3-tok-f16.gguf"))) GTEST_SKIP() << "golden files not found";
  const auto t0 = std::chrono::steady_clock::now();
  auto f = open_golden("llama3-tok-f16.gguf");
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(f);
  RecordProperty("open_ms", std::to_string(ms));
  check_sane(*f);
  EXPECT_EQ(*f->get_str("general.architecture"), "llama");
  EXPECT_EQ(*f->get_str("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(*f->get_str("tokenizer.ggml.pre"), "llama-bpe");
  EXPECT_EQ(*f->get_u32("tokenizer.ggml.bos_token_id"), 128000u);
  auto tokens = f->get_arr("tokenizer.ggml.tokens");
  ASSERT_TRUE(tokens.ok()) << tokens.status().message();
  EXPECT_EQ((*tokens)->elem_type, GgufValueType::STRING);
  ASSERT_EQ((*tokens)->array_size(), 128256u);
  EXPECT_EQ((*tokens)->arr_str[0], "!");
  EXPECT_EQ((*tokens)->arr_str[128000], "<|begin_of_text|>");
  auto types = f->get_arr("tokenizer.ggml.token_type");
  ASSERT_TRUE(types.ok());
  EXPECT_EQ((*types)->elem_type, GgufValueType::INT32);
  ASSERT_EQ((*types)->arr_int.size(), 128256u);
  EXPECT_EQ((*types)->arr_int[128000], 3);  // control
  auto merges = f->get_arr("tokenizer.ggml.merges");
  ASSERT_TRUE(merges.ok());
  EXPECT_GT((*merges)->arr_str.size(), 100000u);
  EXPECT_EQ(f->find_tensor("token_embd.weight")->ne[1], 128256);
  EXPECT_EQ(f->find_tensor("token_embd.weight")->type, GgmlType::F16);
  EXPECT_LT(ms, 1000.0);
  // `ondi info` rendering of the big array stays short.
  EXPECT_LT((*tokens)->to_string().size(), 200u);
  EXPECT_NE((*tokens)->to_string().find("(128256 items)"), std::string::npos);
}

TEST(GgufGolden, Qwen2Tokenizer) {
  if (!exists(golden("qwen2-tok-f16.gguf"))) GTEST_SKIP() << "golden files not found";
  auto f = open_golden("qwen2-tok-f16.gguf");
  ASSERT_TRUE(f);
  check_sane(*f);
  EXPECT_EQ(*f->get_str("general.architecture"), "qwen2");
  EXPECT_EQ(*f->get_str("tokenizer.ggml.pre"), "qwen2");
  EXPECT_EQ((*f->get_arr("tokenizer.ggml.tokens"))->array_size(), 151669u);
}

TEST(GgufGolden, FromMemoryMatchesOpen) {
  if (!exists(golden("llama-math-Q4_0.gguf"))) GTEST_SKIP() << "golden files not found";
  auto f = open_golden("llama-math-Q4_0.gguf");
  ASSERT_TRUE(f);
  auto m = GgufFile::from_memory(f->file_data(), f->file_size(), "copy");
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ((*m)->metadata().size(), f->metadata().size());
  EXPECT_EQ((*m)->tensors().size(), f->tensors().size());
  EXPECT_EQ((*m)->data_offset(), f->data_offset());
}

}  // namespace
}  // namespace ondi
