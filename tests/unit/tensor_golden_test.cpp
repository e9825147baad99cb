// Cross-check against an independent oracle: the golden models in ONDI_GOLDEN_DIR are one random-weight
// model stored in F32 and quantized by the reference implementation's own quantizer (FORMAT.md).
//  1. Decoding every quantized tensor must reproduce the F32 tensor within the format's error bound.
//  2. Re-encoding the F32 tensor with our deterministic quantizers (F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0,
//     Q5_1) must give the golden file's bytes exactly.
//  3. For the k-quants (Q2_K..Q6_K) our encoder follows the reference's imatrix-free search with the float
//     operations in the same order, so it must give the same bytes too. (This relies on no FMA contraction:
//     ISO C++ mode, as CMakeLists.txt sets, compiles with -ffp-contract=off.) Our IQ4_NL search is our own,
//     so for IQ4_NL only the decode accuracy is checked.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "tensor/quants.h"
#include "tensor/types.h"

namespace ondi {
namespace {

const std::string kDir = ONDI_GOLDEN_DIR;

std::unique_ptr<GgufFile> open_golden(const std::string& name) {
  const std::string path = kDir + "/" + name;
  if (!std::filesystem::exists(path)) return nullptr;
  auto f = GgufFile::open(path);
  if (!f.ok()) {
    ADD_FAILURE() << f.status().message();
    return nullptr;
  }
  return std::move(f).value();
}

bool is_block_quant(GgmlType t) { return t != GgmlType::F32 && t != GgmlType::F16 && t != GgmlType::BF16; }

// Per-element bound of the 32-element formats over one block (derivation in tensor_quants_test.cpp):
// rounding to the format's step plus fp16 rounding (2^-11 relative) of the stored scale and min.
double simple_bound(GgmlType t, const float* x) {
  float amax = 0, mn = x[0], mx = x[0];
  for (int i = 0; i < 32; ++i) {
    amax = std::max(amax, std::fabs(x[i]));
    mn = std::min(mn, x[i]);
    mx = std::max(mx, x[i]);
  }
  const double u16 = std::ldexp(1.0, -11), slop = 4 * std::ldexp(static_cast<double>(amax), -24);
  switch (t) {
    case GgmlType::Q8_0:
      return amax * (1.0 / 254 + u16) + slop;
    case GgmlType::Q4_0:
      return amax / 8.0 * (1 + std::ldexp(1.0, -8)) + slop;
    case GgmlType::Q5_0:
      return amax / 16.0 * (1 + std::ldexp(1.0, -7)) + slop;
    case GgmlType::Q4_1:
      return (mx - mn) * (1.0 / 30 + u16) + std::fabs(mn) * u16 + slop;
    case GgmlType::Q5_1:
      return (mx - mn) * (1.0 / 62 + u16) + std::fabs(mn) * u16 + slop;
    default:
      return -1;
  }
}

// Relative-RMS bounds for the search-based formats: step / sqrt(12) for Gaussian sub-blocks times 1.35
// (derivation in tensor_quants_test.cpp); valid for any weight distribution no wider-tailed than Gaussian.
double rms_bound(GgmlType t) {
  switch (t) {
    case GgmlType::Q2_K:
      return 0.34 * 1.35;
    case GgmlType::Q3_K:
      return 0.144 * 1.35;
    case GgmlType::Q4_K:
      return 0.079 * 1.35;
    case GgmlType::Q5_K:
      return 0.038 * 1.35;
    case GgmlType::Q6_K:
      return 0.018 * 1.35;
    case GgmlType::IQ4_NL:
      return 0.076 * 1.35;
    default:
      return -1;
  }
}

struct Stats {
  int tensors = 0;
  int exact_tensors = 0;
  int64_t blocks = 0;
  int64_t exact_blocks = 0;
};

void check_file(const GgufFile& f32, const std::string& file, Stats& kstats) {
  auto q = open_golden(file);
  if (!q) GTEST_SKIP() << file << " not found in " << kDir;
  int checked = 0;
  for (const auto& ti : q->tensors()) {
    if (ti.type == GgmlType::F32) continue;
    const GgufTensorInfo* ref = f32.find_tensor(ti.name);
    ASSERT_NE(ref, nullptr) << ti.name;
    ASSERT_EQ(ref->type, GgmlType::F32) << ti.name;
    ASSERT_EQ(ref->n_elements(), ti.n_elements()) << ti.name;
    const int64_t n = ti.ne[0], rows = ti.n_elements() / n;
    const size_t rs = *row_size(ti.type, n);
    const auto* src = reinterpret_cast<const float*>(f32.tensor_data(*ref));  // GGUF data is 32-byte aligned
    const uint8_t* data = q->tensor_data(ti);
    std::vector<float> x(static_cast<size_t>(ti.n_elements())), y(x.size());
    std::memcpy(x.data(), src, x.size() * sizeof(float));
    for (int64_t r = 0; r < rows; ++r) dequantize_row(ti.type, data + r * rs, y.data() + r * n, n);

    // 1. decode accuracy
    if (!is_block_quant(ti.type)) {
      const double rel = ti.type == GgmlType::F16 ? std::ldexp(1.0, -11) : std::ldexp(1.0, -8);
      for (size_t i = 0; i < x.size(); ++i)
        ASSERT_LE(std::fabs(y[i] - x[i]), rel * std::fabs(x[i]) + 6e-8) << file << " " << ti.name << " " << i;
    } else if (simple_bound(ti.type, x.data()) >= 0) {
      for (size_t i = 0; i < x.size(); ++i)
        ASSERT_LE(std::fabs(y[i] - x[i]), simple_bound(ti.type, x.data() + (i / 32) * 32))
            << file << " " << ti.name << " " << i;
    } else {
      double e = 0, s = 0;
      for (size_t i = 0; i < x.size(); ++i) {
        e += (static_cast<double>(y[i]) - x[i]) * (static_cast<double>(y[i]) - x[i]);
        s += static_cast<double>(x[i]) * x[i];
      }
      EXPECT_LT(std::sqrt(e / s), rms_bound(ti.type)) << file << " " << ti.name << " " << type_name(ti.type);
    }

    // 2./3. re-encode the F32 source with our quantizer
    std::vector<uint8_t> mine(rs * static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) quantize_row(ti.type, x.data() + r * n, mine.data() + r * rs, n);
    const bool deterministic = !is_block_quant(ti.type) || simple_bound(ti.type, x.data()) >= 0;
    if (deterministic) {
      ASSERT_EQ(std::memcmp(mine.data(), data, mine.size()), 0)
          << file << " " << ti.name << " (" << type_name(ti.type) << ") differs from the reference quantizer";
    } else if (ti.type != GgmlType::IQ4_NL) {  // our IQ4_NL search is our own: only its accuracy is checked
      const size_t bsz = type_info(ti.type)->type_size;
      const int64_t nb = static_cast<int64_t>(mine.size() / bsz);
      int64_t same = 0;
      for (int64_t b = 0; b < nb; ++b) same += std::memcmp(mine.data() + b * bsz, data + b * bsz, bsz) == 0;
      kstats.tensors++;
      kstats.exact_tensors += same == nb;
      kstats.blocks += nb;
      kstats.exact_blocks += same;
    }
    ++checked;
  }
  EXPECT_GT(checked, 0) << file;
}

class TensorGolden : public ::testing::Test {
 protected:
  void SetUp() override {
    f32_ = open_golden("llama-math-f32.gguf");
    if (!f32_) GTEST_SKIP() << "golden models not found in " << kDir;
  }
  std::unique_ptr<GgufFile> f32_;
  Stats stats_;
};

TEST_F(TensorGolden, F16) { check_file(*f32_, "llama-math-F16.gguf", stats_); }
TEST_F(TensorGolden, BF16) { check_file(*f32_, "llama-math-BF16.gguf", stats_); }
TEST_F(TensorGolden, Q8_0) { check_file(*f32_, "llama-math-Q8_0.gguf", stats_); }
TEST_F(TensorGolden, Q4_0) { check_file(*f32_, "llama-math-Q4_0.gguf", stats_); }
TEST_F(TensorGolden, Q4_1) { check_file(*f32_, "llama-math-Q4_1.gguf", stats_); }
TEST_F(TensorGolden, Q5_0) { check_file(*f32_, "llama-math-Q5_0.gguf", stats_); }
TEST_F(TensorGolden, Q5_1) { check_file(*f32_, "llama-math-Q5_1.gguf", stats_); }

// The k-quant files: decode accuracy for every tensor, and our encoder must reproduce every block.
class TensorGoldenK : public TensorGolden, public ::testing::WithParamInterface<const char*> {};

TEST_P(TensorGoldenK, DecodeAndReencode) {
  check_file(*f32_, GetParam(), stats_);
  if (stats_.blocks > 0) {
    const double frac = static_cast<double>(stats_.exact_blocks) / static_cast<double>(stats_.blocks);
    RecordProperty("exact_block_permille", static_cast<int>(frac * 1000));
    std::printf("  %s: %d/%d tensors and %lld/%lld blocks re-encode to identical bytes\n", GetParam(),
                stats_.exact_tensors, stats_.tensors, static_cast<long long>(stats_.exact_blocks),
                static_cast<long long>(stats_.blocks));
    EXPECT_EQ(stats_.exact_blocks, stats_.blocks) << GetParam();
  }
}

INSTANTIATE_TEST_SUITE_P(Files, TensorGoldenK,
                         ::testing::Values("llama-math-Q2_K.gguf", "llama-math-Q3_K_M.gguf", "llama-math-Q4_K_M.gguf",
                                           "llama-math-Q5_K_M.gguf", "llama-math-Q6_K.gguf", "llama-math-IQ4_NL.gguf"));

}  // namespace
}  // namespace ondi
