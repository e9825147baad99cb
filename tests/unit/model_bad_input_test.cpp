// Bad model files, one defined answer each: a clear Status naming the key or tensor, never a crash or a huge
// allocation. Each case mutates one thing in an otherwise valid tiny llama file built with the GGUF writer.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "model/model.h"
#include "runtime/context.h"
#include "runtime/generate.h"
#include "runtime/session_file.h"

namespace ondi {
namespace {

constexpr int64_t kD = 64, kFF = 96, kV = 40, kHeads = 4, kKv = 2, kLayers = 2;

struct Spec {
  std::string arch = "llama";
  uint64_t layers = kLayers;
  int64_t heads = kHeads;
  std::string skip_tensor;                     // leave this tensor out
  std::string reshape_tensor;                  // give this tensor a wrong shape
  GgmlType matrix_type = GgmlType::F32;        // type of blk.0.attn_q.weight
};

std::vector<uint8_t> f32_bytes(size_t n, float v) {
  std::vector<uint8_t> b(n * 4);
  for (size_t i = 0; i < n; ++i) std::memcpy(b.data() + 4 * i, &v, 4);
  return b;
}

std::vector<uint8_t> build(const Spec& s) {
  GgufWriter w;
  w.set_str("general.architecture", s.arch);
  const std::string a = s.arch + ".";
  w.set("" + a + "block_count", GgufValue::make_uint(GgufValueType::UINT64, s.layers));
  w.set_u32(a + "embedding_length", kD);
  w.set_u32(a + "feed_forward_length", kFF);
  w.set_u32(a + "attention.head_count", static_cast<uint32_t>(s.heads));
  w.set_u32(a + "attention.head_count_kv", kKv);
  w.set_f32(a + "attention.layer_norm_rms_epsilon", 1e-5f);
  auto add = [&](const std::string& name, std::vector<int64_t> ne, GgmlType type = GgmlType::F32) {
    if (name == s.skip_tensor) return;
    if (name == s.reshape_tensor) ne[0] += 32;
    int64_t n = 1;
    for (int64_t e : ne) n *= e;
    std::vector<uint8_t> data;
    if (type == GgmlType::F32) {
      data = f32_bytes(static_cast<size_t>(n), 0.01f);
    } else {
      data.assign(*row_size(type, ne[0]) * static_cast<size_t>(n / ne[0]), 0);
    }
    ASSERT_TRUE(w.add_tensor(name, type, ne, std::move(data)).ok()) << name;
  };
  add("token_embd.weight", {kD, kV});
  add("output_norm.weight", {kD});
  const int64_t hd = kD / kHeads;
  for (int64_t l = 0; l < std::min<int64_t>(static_cast<int64_t>(s.layers), kLayers); ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    add(p + "attn_norm.weight", {kD});
    add(p + "attn_q.weight", {kD, kHeads * hd}, l == 0 ? s.matrix_type : GgmlType::F32);
    add(p + "attn_k.weight", {kD, kKv * hd});
    add(p + "attn_v.weight", {kD, kKv * hd});
    add(p + "attn_output.weight", {kHeads * hd, kD});
    add(p + "ffn_norm.weight", {kD});
    add(p + "ffn_gate.weight", {kD, kFF});
    add(p + "ffn_up.weight", {kD, kFF});
    add(p + "ffn_down.weight", {kFF, kD});
  }
  return w.to_bytes();
}

Result<std::unique_ptr<Model>> load(const std::vector<uint8_t>& bytes) {
  auto f = GgufFile::from_memory(bytes.data(), bytes.size(), "bad.gguf");
  if (!f.ok()) return f.status();
  return Model::load(std::move(f).value());
}

void expect_error(const Spec& s, Errc code, std::vector<std::string> mentions) {
  const auto bytes = build(s);
  ASSERT_FALSE(bytes.empty());
  auto m = load(bytes);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), code) << m.status().message();
  for (const auto& w : mentions) EXPECT_NE(m.status().message().find(w), std::string::npos) << m.status().message();
}

TEST(ModelBadInput, TheValidBaseLoadsAndRuns) {
  const auto bytes = build(Spec{});
  auto m = load(bytes);
  ASSERT_TRUE(m.ok()) << m.status().message();
  auto ctx = Context::create(**m, ContextParams{});
  ASSERT_TRUE(ctx.ok());
  std::vector<float> out(kV);
  EXPECT_TRUE(evaluate(**ctx, 0, {1, 2, 3}, 1, out.data()).ok());
}

TEST(ModelBadInput, UnknownArchitecture) {
  Spec s;
  s.arch = "mamba9";
  expect_error(s, Errc::unsupported, {"bad.gguf", "'mamba9'", "not supported"});
}

TEST(ModelBadInput, MissingTensor) {
  Spec s;
  s.skip_tensor = "blk.1.ffn_up.weight";
  expect_error(s, Errc::format, {"bad.gguf", "missing tensor 'blk.1.ffn_up.weight'"});
}

TEST(ModelBadInput, MisShapedTensor) {
  Spec s;
  s.reshape_tensor = "blk.0.attn_k.weight";
  expect_error(s, Errc::format, {"'blk.0.attn_k.weight'", "[96, 32]", "expected [64, 32]"});
}

TEST(ModelBadInput, ABillionLayersIsRefusedBeforeAllocating) {
  Spec s;
  s.layers = 1000000000;
  expect_error(s, Errc::format, {"llama.block_count", "1000000000", "outside"});
}

TEST(ModelBadInput, HeadsThatDoNotDivide) {
  Spec s;
  s.heads = 3;  // 3 query heads for 2 KV heads
  expect_error(s, Errc::format, {"head_count 3", "head_count_kv 2"});
}

TEST(ModelBadInput, AnActivationOnlyTypeAsAWeight) {
  Spec s;
  s.matrix_type = GgmlType::Q8_1;  // a valid GGUF type, but not one weights are stored in
  expect_error(s, Errc::unsupported, {"'blk.0.attn_q.weight'", "Q8_1"});
}

TEST(ModelBadInput, PromptLongerThanTheContext) {
  const auto bytes = build(Spec{});
  auto m = load(bytes);
  ASSERT_TRUE(m.ok());
  ContextParams cp;
  cp.n_ctx = 8;
  auto ctx = Context::create(**m, cp);
  ASSERT_TRUE(ctx.ok());
  std::vector<float> out(kV);
  const Status st = evaluate(**ctx, 0, std::vector<int32_t>(9, 1), 1, out.data());
  EXPECT_EQ(st.code(), Errc::out_of_range);
  EXPECT_NE(st.message().find("does not fit the context"), std::string::npos) << st.message();
  EXPECT_EQ((*ctx)->seq_len(0), 0);  // nothing was evaluated
}

// Disk full while saving a session: an I/O error naming the file, and no partial file left behind.
TEST(ModelBadInput, DiskFullWhileSavingASession) {
  const auto bytes = build(Spec{});
  auto m = load(bytes);
  ASSERT_TRUE(m.ok());
  auto ctx = Context::create(**m, ContextParams{});
  ASSERT_TRUE(ctx.ok());
  std::vector<int32_t> ids(64, 3);
  ASSERT_TRUE(evaluate(**ctx, 0, ids, 0, nullptr).ok());
  const std::string dir = ::testing::TempDir();
  const std::string path = dir + "/full-session.bin";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);  // a write past the limit then fails with EFBIG instead of killing us
    rlimit lim{4096, 4096};
    setrlimit(RLIMIT_FSIZE, &lim);
    const Status st = save_session(**ctx, 0, SessionState{ids, {}}, path);
    const bool ok = st.code() == Errc::io && st.message().find(path) != std::string::npos;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_NE(access(path.c_str(), F_OK), 0) << "a partial session file was left";
  EXPECT_NE(access((path + ".tmp").c_str(), F_OK), 0) << "the temporary file was left";
}

}  // namespace
}  // namespace ondi
