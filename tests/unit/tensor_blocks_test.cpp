// Decoding of hand-built blocks. Each test writes a block byte by byte from the layout description of the
// format (ggml-common.h / GGUF docs), computes each element's expected value with the documented formula,
// and compares with dequantize_row. The chosen scales are powers of two and the integers small, so every
// expected value is exact in f32 and the comparisons are exact.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "tensor/blocks.h"
#include "tensor/quant_util.h"
#include "tensor/quants.h"
#include "tensor/types.h"

namespace ondi {
namespace {

// fp16 bit patterns of a few powers of two (sign | exponent+15 << 10).
constexpr uint16_t kH1 = 0x3C00;      // 1.0
constexpr uint16_t kH0_5 = 0x3800;    // 0.5
constexpr uint16_t kH0_25 = 0x3400;   // 0.25
constexpr uint16_t kH0_125 = 0x3000;  // 0.125
constexpr uint16_t kH2 = 0x4000;      // 2.0
constexpr uint16_t kHm1 = 0xBC00;     // -1.0

void put16(std::vector<uint8_t>& b, size_t off, uint16_t v) {
  b[off] = static_cast<uint8_t>(v & 0xff);
  b[off + 1] = static_cast<uint8_t>(v >> 8);
}

std::vector<float> decode(GgmlType t, const std::vector<uint8_t>& bytes, int64_t n) {
  std::vector<float> out(static_cast<size_t>(n));
  dequantize_row(t, bytes.data(), out.data(), n);
  return out;
}

// The IQ4_NL code book, typed in from the format's published table (kvalues_iq4nl).
constexpr int kIq4[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

TEST(TensorBlocks, StructSizesMatchTypeTable) {
  EXPECT_EQ(sizeof(BlockQ4_0), type_info(GgmlType::Q4_0)->type_size);
  EXPECT_EQ(sizeof(BlockQ4_1), type_info(GgmlType::Q4_1)->type_size);
  EXPECT_EQ(sizeof(BlockQ5_0), type_info(GgmlType::Q5_0)->type_size);
  EXPECT_EQ(sizeof(BlockQ5_1), type_info(GgmlType::Q5_1)->type_size);
  EXPECT_EQ(sizeof(BlockQ8_0), type_info(GgmlType::Q8_0)->type_size);
  EXPECT_EQ(sizeof(BlockQ8_1), type_info(GgmlType::Q8_1)->type_size);
  EXPECT_EQ(sizeof(BlockQ2_K), type_info(GgmlType::Q2_K)->type_size);
  EXPECT_EQ(sizeof(BlockQ3_K), type_info(GgmlType::Q3_K)->type_size);
  EXPECT_EQ(sizeof(BlockQ4_K), type_info(GgmlType::Q4_K)->type_size);
  EXPECT_EQ(sizeof(BlockQ5_K), type_info(GgmlType::Q5_K)->type_size);
  EXPECT_EQ(sizeof(BlockQ6_K), type_info(GgmlType::Q6_K)->type_size);
  EXPECT_EQ(sizeof(BlockQ8_K), type_info(GgmlType::Q8_K)->type_size);
  EXPECT_EQ(sizeof(BlockIQ4_NL), type_info(GgmlType::IQ4_NL)->type_size);
  // field offsets of the layouts with a non-obvious order
  EXPECT_EQ(offsetof(BlockQ2_K, d), 80u);
  EXPECT_EQ(offsetof(BlockQ3_K, d), 108u);
  EXPECT_EQ(offsetof(BlockQ5_K, qs), 48u);
  EXPECT_EQ(offsetof(BlockQ6_K, d), 208u);
  EXPECT_EQ(offsetof(BlockQ8_K, bsums), 260u);
}

TEST(TensorBlocks, F16AndBF16) {
  // F16 1.0 = 0x3C00, -2.0 = 0xC000; BF16 is the top half of the f32: 1.0 = 0x3F80, -0.375 = 0xBEC0.
  std::vector<uint8_t> h = {0x00, 0x3C, 0x00, 0xC0};
  EXPECT_EQ(decode(GgmlType::F16, h, 2), (std::vector<float>{1.0f, -2.0f}));
  std::vector<uint8_t> b = {0x80, 0x3F, 0xC0, 0xBE};
  EXPECT_EQ(decode(GgmlType::BF16, b, 2), (std::vector<float>{1.0f, -0.375f}));
}

// Q4_0: [d:f16][qs:16]; byte j = q[j] | q[j+16] << 4; x = d * (q - 8).
TEST(TensorBlocks, Q4_0) {
  std::vector<uint8_t> b(18);
  put16(b, 0, kH0_5);
  auto q = [](int i) { return (i * 7 + 3) % 16; };
  for (int j = 0; j < 16; ++j) b[2 + j] = static_cast<uint8_t>(q(j) | q(j + 16) << 4);
  auto x = decode(GgmlType::Q4_0, b, 32);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(x[i], 0.5f * (q(i) - 8)) << i;
}

// Q4_1: [d:f16][m:f16][qs:16]; x = d * q + m.
TEST(TensorBlocks, Q4_1) {
  std::vector<uint8_t> b(20);
  put16(b, 0, kH0_25);
  put16(b, 2, kHm1);
  auto q = [](int i) { return (i * 5 + 1) % 16; };
  for (int j = 0; j < 16; ++j) b[4 + j] = static_cast<uint8_t>(q(j) | q(j + 16) << 4);
  auto x = decode(GgmlType::Q4_1, b, 32);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(x[i], 0.25f * q(i) - 1.0f) << i;
}

// Q5_0: [d:f16][qh:u32 LE][qs:16]; q = nibble | (bit i of qh) << 4; x = d * (q - 16).
TEST(TensorBlocks, Q5_0) {
  std::vector<uint8_t> b(22);
  put16(b, 0, kH1);
  auto q = [](int i) { return (i * 11 + 5) % 32; };
  uint32_t qh = 0;
  for (int i = 0; i < 32; ++i) qh |= static_cast<uint32_t>(q(i) >> 4) << i;
  for (int k = 0; k < 4; ++k) b[2 + k] = static_cast<uint8_t>(qh >> (8 * k));
  for (int j = 0; j < 16; ++j) b[6 + j] = static_cast<uint8_t>((q(j) & 15) | (q(j + 16) & 15) << 4);
  auto x = decode(GgmlType::Q5_0, b, 32);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(x[i], static_cast<float>(q(i) - 16)) << i;
}

// Q5_1: [d][m][qh:u32][qs:16]; x = d * q + m.
TEST(TensorBlocks, Q5_1) {
  std::vector<uint8_t> b(24);
  put16(b, 0, kH0_5);
  put16(b, 2, kH2);
  auto q = [](int i) { return (i * 13 + 2) % 32; };
  uint32_t qh = 0;
  for (int i = 0; i < 32; ++i) qh |= static_cast<uint32_t>(q(i) >> 4) << i;
  for (int k = 0; k < 4; ++k) b[4 + k] = static_cast<uint8_t>(qh >> (8 * k));
  for (int j = 0; j < 16; ++j) b[8 + j] = static_cast<uint8_t>((q(j) & 15) | (q(j + 16) & 15) << 4);
  auto x = decode(GgmlType::Q5_1, b, 32);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(x[i], 0.5f * q(i) + 2.0f) << i;
}

// Q8_0: [d][int8 x32]; Q8_1: [d][s][int8 x32] (s is not needed to decode); x = d * q.
TEST(TensorBlocks, Q8_0AndQ8_1) {
  std::vector<uint8_t> b0(34), b1(36);
  put16(b0, 0, kH0_125);
  put16(b1, 0, kH0_125);
  put16(b1, 2, 0x7BFF);  // garbage s: must not affect decoding
  for (int i = 0; i < 32; ++i) {
    const int8_t q = static_cast<int8_t>(i * 8 - 128);
    b0[2 + i] = static_cast<uint8_t>(q);
    b1[4 + i] = static_cast<uint8_t>(q);
  }
  auto x0 = decode(GgmlType::Q8_0, b0, 32), x1 = decode(GgmlType::Q8_1, b1, 32);
  for (int i = 0; i < 32; ++i) {
    EXPECT_EQ(x0[i], 0.125f * (i * 8 - 128)) << i;
    EXPECT_EQ(x1[i], 0.125f * (i * 8 - 128)) << i;
  }
}

// IQ4_NL: [d][qs:16] nibble-packed as Q4_0; x = d * table[q].
TEST(TensorBlocks, IQ4_NL) {
  std::vector<uint8_t> b(18);
  put16(b, 0, kH0_5);
  auto q = [](int i) { return (i * 9 + 4) % 16; };
  for (int j = 0; j < 16; ++j) b[2 + j] = static_cast<uint8_t>(q(j) | q(j + 16) << 4);
  auto x = decode(GgmlType::IQ4_NL, b, 32);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(x[i], 0.5f * kIq4[q(i)]) << i;
}

// 2-bit planes (Q2_K qs, Q3_K low bits): byte 32h + l holds value 128h + 32s + l at bits 2s..2s+1.
void put_2bit_planes(std::vector<uint8_t>& b, size_t off, int (*q)(int)) {
  for (int v = 0; v < 256; ++v) {
    const int h = v / 128, s = (v % 128) / 32, l = v % 32;
    b[off + 32 * h + l] |= static_cast<uint8_t>((q(v) & 3) << (2 * s));
  }
}

// Q2_K: [scales:16][qs:64][d][dmin]; scales[j] = sc | mn << 4 for values 16j..16j+15;
// x = d * sc * q - dmin * mn.
TEST(TensorBlocks, Q2_K) {
  std::vector<uint8_t> b(84);
  auto sc = [](int j) { return (j * 3 + 1) % 16; };
  auto mn = [](int j) { return 15 - j; };
  static int (*q)(int) = [](int v) { return (v * 5 + v / 7) % 4; };
  for (int j = 0; j < 16; ++j) b[j] = static_cast<uint8_t>(sc(j) | mn(j) << 4);
  put_2bit_planes(b, 16, q);
  put16(b, 80, kH0_5);
  put16(b, 82, kH0_25);
  auto x = decode(GgmlType::Q2_K, b, 256);
  for (int v = 0; v < 256; ++v) EXPECT_EQ(x[v], 0.5f * sc(v / 16) * q(v) - 0.25f * mn(v / 16)) << v;
}

// Q3_K: [hmask:32][qs:64][scales:12][d]; q = low 2 bits (planes) | bit (v/32) of hmask[v%32] << 2;
// 6-bit scale sc_j: low nibble in scales[j] (j < 8) or high nibble of scales[j-8]; top two bits at bits
// 2*(j/4) of scales[8 + j%4]; x = d * (sc - 32) * (q - 4).
TEST(TensorBlocks, Q3_K) {
  std::vector<uint8_t> b(110);
  auto sc = [](int j) { return (j * 4 + 1) % 64; };
  static int (*q)(int) = [](int v) { return (v * 3 + 1) % 8; };
  for (int v = 0; v < 256; ++v)
    if (q(v) & 4) b[v % 32] |= static_cast<uint8_t>(1u << (v / 32));
  put_2bit_planes(b, 32, q);
  for (int j = 0; j < 16; ++j) {
    if (j < 8)
      b[96 + j] |= static_cast<uint8_t>(sc(j) & 15);
    else
      b[96 + j - 8] |= static_cast<uint8_t>((sc(j) & 15) << 4);
    b[96 + 8 + j % 4] |= static_cast<uint8_t>((sc(j) >> 4) << (2 * (j / 4)));
  }
  put16(b, 108, kH0_25);
  auto x = decode(GgmlType::Q3_K, b, 256);
  for (int v = 0; v < 256; ++v) EXPECT_EQ(x[v], 0.25f * (sc(v / 16) - 32) * (q(v) - 4)) << v;
}

// Q4_K/Q5_K 12-byte scales: j < 4: sc = s[j] & 63, mn = s[j+4] & 63; j >= 4: sc = s[j+4] & 15 | (s[j-4] >> 6)
// << 4, mn = s[j+4] >> 4 | (s[j] >> 6) << 4.
void put_k4_scales(std::vector<uint8_t>& b, size_t off, int (*sc)(int), int (*mn)(int)) {
  for (int j = 0; j < 4; ++j) {
    b[off + j] = static_cast<uint8_t>(sc(j) | (sc(j + 4) >> 4) << 6);
    b[off + j + 4] = static_cast<uint8_t>(mn(j) | (mn(j + 4) >> 4) << 6);
    b[off + j + 8] = static_cast<uint8_t>((sc(j + 4) & 15) | (mn(j + 4) & 15) << 4);
  }
}

// Q4_K: [d][dmin][scales:12][qs:128]; byte 32c + l: value 64c + l (low nibble), 64c + 32 + l (high);
// x = d * sc_{v/32} * q - dmin * mn_{v/32}.
TEST(TensorBlocks, Q4_K) {
  std::vector<uint8_t> b(144);
  static int (*sc)(int) = [](int j) { return (5 * j + 3) % 64; };
  static int (*mn)(int) = [](int j) { return 63 - 7 * j; };
  auto q = [](int v) { return (v * 11 + 2) % 16; };
  put16(b, 0, kH0_5);
  put16(b, 2, kH0_125);
  put_k4_scales(b, 4, sc, mn);
  for (int v = 0; v < 256; ++v) {
    const int c = v / 64, r = v % 64;
    b[16 + 32 * c + r % 32] |= static_cast<uint8_t>(q(v) << (r < 32 ? 0 : 4));
  }
  auto x = decode(GgmlType::Q4_K, b, 256);
  for (int v = 0; v < 256; ++v) EXPECT_EQ(x[v], 0.5f * sc(v / 32) * q(v) - 0.125f * mn(v / 32)) << v;
}

// Q5_K: [d][dmin][scales:12][qh:32][qs:128]; low nibbles as Q4_K, bit 4 of value v = bit (v/32) of qh[v%32].
TEST(TensorBlocks, Q5_K) {
  std::vector<uint8_t> b(176);
  static int (*sc)(int) = [](int j) { return 63 - 6 * j; };
  static int (*mn)(int) = [](int j) { return (9 * j + 1) % 64; };
  auto q = [](int v) { return (v * 13 + 7) % 32; };
  put16(b, 0, kH0_25);
  put16(b, 2, kH0_5);
  put_k4_scales(b, 4, sc, mn);
  for (int v = 0; v < 256; ++v) {
    const int c = v / 64, r = v % 64;
    b[48 + 32 * c + r % 32] |= static_cast<uint8_t>((q(v) & 15) << (r < 32 ? 0 : 4));
    b[16 + v % 32] |= static_cast<uint8_t>((q(v) >> 4) << (v / 32));
  }
  auto x = decode(GgmlType::Q5_K, b, 256);
  for (int v = 0; v < 256; ++v) EXPECT_EQ(x[v], 0.25f * sc(v / 32) * q(v) - 0.5f * mn(v / 32)) << v;
}

// Q6_K: [ql:128][qh:64][scales:int8 x16][d]; for v = 128h + 32g + l: low nibble of ql[64h + l + 32(g&1)]
// (high nibble if g >= 2), high 2 bits at bits 2g of qh[32h + l]; x = d * sc_{v/16} * (q - 32).
TEST(TensorBlocks, Q6_K) {
  std::vector<uint8_t> b(210);
  auto sc = [](int j) { return j * 9 - 70; };
  auto q = [](int v) { return (v * 7 + 3) % 64; };
  for (int v = 0; v < 256; ++v) {
    const int h = v / 128, g = (v % 128) / 32, l = v % 32;
    b[64 * h + l + 32 * (g & 1)] |= static_cast<uint8_t>((q(v) & 15) << (g >= 2 ? 4 : 0));
    b[128 + 32 * h + l] |= static_cast<uint8_t>((q(v) >> 4) << (2 * g));
  }
  for (int j = 0; j < 16; ++j) b[192 + j] = static_cast<uint8_t>(static_cast<int8_t>(sc(j)));
  put16(b, 208, kH0_25);
  auto x = decode(GgmlType::Q6_K, b, 256);
  for (int v = 0; v < 256; ++v) EXPECT_EQ(x[v], 0.25f * sc(v / 16) * (q(v) - 32)) << v;
}

// Q8_K: [d:f32][int8 x256][bsums:int16 x16]; x = d * q.
TEST(TensorBlocks, Q8_K) {
  std::vector<uint8_t> b(292);
  const float d = -0.03125f;
  std::memcpy(b.data(), &d, 4);
  for (int v = 0; v < 256; ++v) b[4 + v] = static_cast<uint8_t>(static_cast<int8_t>(v - 128));
  auto x = decode(GgmlType::Q8_K, b, 256);
  for (int v = 0; v < 256; ++v) EXPECT_EQ(x[v], d * (v - 128)) << v;
}

// Several blocks in a row decode independently (the per-block stride is the type size).
TEST(TensorBlocks, MultiBlockRowsUseTypeSizeStride) {
  std::vector<uint8_t> b(3 * 18);
  for (int k = 0; k < 3; ++k) {
    put16(b, 18 * k, static_cast<uint16_t>(kH1 + (k << 10)));  // d = 1, 2, 4
    for (int j = 0; j < 16; ++j) b[18 * k + 2 + j] = 0x9A;     // q = 10 (low), 9 (high)
  }
  auto x = decode(GgmlType::Q4_0, b, 96);
  for (int k = 0; k < 3; ++k)
    for (int j = 0; j < 16; ++j) {
      EXPECT_EQ(x[32 * k + j], 2.0f * (1 << k));
      EXPECT_EQ(x[32 * k + 16 + j], 1.0f * (1 << k));
    }
}

// The word-wise decoder SIMD kernels use gives k4_scale_min's values for every byte pattern of the encoding
// (each output depends on at most 2 bytes, so random 12-byte strings plus the all-0/all-1 ones cover it).
TEST(KQuantScales, AllAtOnceMatchesPerSubBlock) {
  std::mt19937 rng(3);
  for (int it = 0; it < 20000; ++it) {
    uint8_t s[12];
    for (auto& b : s) b = it == 0 ? 0 : it == 1 ? 0xFF : static_cast<uint8_t>(rng());
    uint32_t words[4];
    quant::k4_scales_mins(s, words);
    uint8_t out[16];
    for (int k = 0; k < 4; ++k) quant::store_u32le(out + 4 * k, words[k]);
    for (int j = 0; j < 8; ++j) {
      int sc, mn;
      quant::k4_scale_min(s, j, sc, mn);
      ASSERT_EQ(out[j], sc) << "scale " << j;
      ASSERT_EQ(out[8 + j], mn) << "min " << j;
    }
  }
}

}  // namespace
}  // namespace ondi
