// Session files: a restored session must continue bit-identically to one that was never interrupted, and a
// corrupt, truncated or mismatched file must be a clear error that leaves the context untouched.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "model/model.h"
#include "runtime/context.h"
#include "runtime/generate.h"
#include "runtime/session_file.h"

namespace ondi {
namespace {

const std::vector<int32_t> kA = {331, 154, 404, 49, 74, 96, 374, 59, 219, 38};
const std::vector<int32_t> kB = {88, 444, 428, 71, 246};

std::unique_ptr<Model> load(const char* name) {
  auto m = Model::load(std::string(ONDI_GOLDEN_DIR) + "/" + name);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return m.ok() ? std::move(m).value() : nullptr;
}

std::unique_ptr<Context> make_ctx(const Model& m, int threads, GgmlType kv = GgmlType::F16) {
  ContextParams cp;
  cp.n_ctx = 32;
  cp.n_threads = threads;
  cp.n_outputs = 8;
  cp.kv_type = kv;
  auto c = Context::create(m, cp);
  EXPECT_TRUE(c.ok());
  return std::move(c).value();
}

std::string tmp_path(const char* name) { return ::testing::TempDir() + "/" + name; }

std::vector<uint8_t> read_all(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}
void write_all(const std::string& p, const std::vector<uint8_t>& b) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

class SessionKv : public ::testing::TestWithParam<GgmlType> {};

TEST_P(SessionKv, RestoredSessionContinuesBitIdentically) {
  const GgmlType kv = GetParam();
  auto m = load("qwen2-math-Q4_K_M.gguf");
  ASSERT_TRUE(m);
  const size_t V = size_t(m->hparams().n_vocab);
  std::vector<int32_t> ab = kA;
  ab.insert(ab.end(), kB.begin(), kB.end());
  auto whole = make_ctx(*m, 2, kv);
  std::vector<float> want(kB.size() * V);
  ASSERT_TRUE(evaluate(*whole, 0, ab, kB.size(), want.data()).ok());

  auto first = make_ctx(*m, 1, kv);
  SessionState st{kA, std::vector<float>(V)};
  ASSERT_TRUE(evaluate(*first, 0, kA, 1, st.last_logits.data()).ok());
  const std::string path = tmp_path("ondi-session.bin");
  ASSERT_TRUE(save_session(*first, 0, st, path).ok());

  auto second = make_ctx(*m, 3, kv);  // another thread count too: the result must not care
  auto loaded = load_session(*second, 0, path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->tokens, kA);
  EXPECT_EQ(0, std::memcmp(loaded->last_logits.data(), st.last_logits.data(), V * sizeof(float)));
  EXPECT_EQ(second->seq_len(0), int32_t(kA.size()));
  std::vector<float> got(kB.size() * V);
  ASSERT_TRUE(evaluate(*second, 0, kB, kB.size(), got.data()).ok());
  EXPECT_EQ(0, std::memcmp(want.data(), got.data(), got.size() * sizeof(float)));
  std::remove(path.c_str());
}

INSTANTIATE_TEST_SUITE_P(F16AndQ8_0, SessionKv, ::testing::Values(GgmlType::F16, GgmlType::Q8_0),
                         [](const auto& i) { return std::string(type_name(i.param)); });

TEST(Session, BadFilesAreClearErrorsAndLeaveTheContextAlone) {
  auto m = load("llama-math-Q8_0.gguf");
  auto other = load("llama-math-Q4_0.gguf");  // same shapes, other weights
  ASSERT_TRUE(m && other);
  auto ctx = make_ctx(*m, 1);
  SessionState st{kA, {}};
  ASSERT_TRUE(evaluate(*ctx, 0, kA, 0, nullptr).ok());
  const std::string path = tmp_path("ondi-session-bad.bin");
  ASSERT_TRUE(save_session(*ctx, 0, st, path).ok());
  const std::vector<uint8_t> good = read_all(path);

  auto fresh = make_ctx(*m, 1);
  ASSERT_TRUE(evaluate(*fresh, 0, {7, 8}, 0, nullptr).ok());
  auto expect_error = [&](const std::vector<uint8_t>& bytes, Errc code, const char* what) {
    write_all(path, bytes);
    auto r = load_session(*fresh, 0, path);
    ASSERT_FALSE(r.ok()) << what;
    EXPECT_EQ(r.status().code(), code) << what << ": " << r.status().message();
    EXPECT_NE(r.status().message().find(path), std::string::npos) << what;
    EXPECT_EQ(fresh->seq_len(0), 2) << what;  // untouched
  };
  std::vector<uint8_t> b = good;
  b[good.size() / 2] ^= 0x40;
  expect_error(b, Errc::format, "flipped byte");
  expect_error(std::vector<uint8_t>(good.begin(), good.end() - 9), Errc::format, "truncated");
  expect_error(std::vector<uint8_t>(good.begin(), good.begin() + 20), Errc::format, "header only");
  b = good;
  b[0] = 'X';
  expect_error(b, Errc::format, "magic");
  b = good;
  b[8] = 2;
  expect_error(b, Errc::unsupported, "version");

  auto wrong_model = make_ctx(*other, 1);
  write_all(path, good);
  auto r = load_session(*wrong_model, 0, path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("different model"), std::string::npos) << r.status().message();
  std::remove(path.c_str());
}

}  // namespace
}  // namespace ondi
