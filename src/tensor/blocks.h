// Byte layouts of the GGUF block formats (ggml block_* structs), one struct per format.
//
// Every struct is packed to alignment 1: GGUF aligns a tensor's start (32 bytes by default), but rows of
// 18-, 110- or 210-byte blocks put most blocks at odd addresses, and callers may hand us any pointer. With
// alignment 1 the compiler emits unaligned-safe loads for the 16/32-bit fields, so a block may be read in
// place wherever it lies. Half-precision fields are raw IEEE binary16 bits (core/fp16.h converts them).
//
// Notation in the comments: a block decodes to `n` values x[0..n); "d" is a scale, "m"/"dmin" a min.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tensor/types.h"

namespace ondi {

#define ONDI_PACKED __attribute__((packed))

// ---- plain 16-bit floats ---------------------------------------------------------------------------
// F16: IEEE binary16; BF16: the upper half of an IEEE binary32. One element per "block".
using F16Bits = uint16_t;
using BF16Bits = uint16_t;

// ---- 32-element blocks ------------------------------------------------------------------------------
// Nibble packing shared by Q4_0/Q4_1/Q5_0/Q5_1/IQ4_NL: byte j holds x[j] in its low nibble and x[j + 16]
// in its high nibble (not x[2j], x[2j+1]): the two halves of the block unpack with one mask and one shift.

// Q4_0: x[i] = d * (q[i] - 8), q in [0, 15].
struct ONDI_PACKED BlockQ4_0 {
  uint16_t d;      // fp16 scale
  uint8_t qs[16];  // nibbles, see packing above
};

// Q4_1: x[i] = d * q[i] + m, q in [0, 15].
struct ONDI_PACKED BlockQ4_1 {
  uint16_t d;  // fp16 scale
  uint16_t m;  // fp16 min (the value of q = 0)
  uint8_t qs[16];
};

// Q5_0: x[i] = d * (q[i] - 16), q in [0, 31]: low 4 bits as in Q4_0, bit 4 of q[i] is bit i of the
// little-endian 32-bit word qh.
struct ONDI_PACKED BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];  // little-endian u32: bit i = high bit of q[i]
  uint8_t qs[16];
};

// Q5_1: x[i] = d * q[i] + m, q in [0, 31], bits packed as in Q5_0.
struct ONDI_PACKED BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[16];
};

// Q8_0: x[i] = d * q[i], q in [-127, 127] (as produced; -128 decodes fine).
struct ONDI_PACKED BlockQ8_0 {
  uint16_t d;
  int8_t qs[32];
};

// Q8_1 (activations only): Q8_0 plus s = d * sum(q) in fp16, which lets a dot with a Q4_1/Q5_1 weight
// apply the weight's min as m * s instead of a second pass over the elements.
struct ONDI_PACKED BlockQ8_1 {
  uint16_t d;
  uint16_t s;  // fp16 of d * sum(qs)
  int8_t qs[32];
};

// IQ4_NL: x[i] = d * kIq4nlValues[q[i]], q in [0, 15], nibbles packed as in Q4_0. The 16 levels are
// non-uniform (denser near zero, where most weights are).
struct ONDI_PACKED BlockIQ4_NL {
  uint16_t d;
  uint8_t qs[16];
};
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// ---- 256-element super-blocks (k-quants) ------------------------------------------------------------
// "2-bit-plane" packing shared by Q2_K and the low bits of Q3_K: the super-block is two halves of 128
// values; in half h, byte qs[32h + l] (l in [0, 32)) holds the values 128h + l + 32s at bit 2s, s = 0..3.

// Q2_K: 16 sub-blocks of 16 values; x = d * sc[j] * q - dmin * mn[j], q in [0, 3], where scales[j] holds
// sc[j] (low nibble) and mn[j] (high nibble), both 4-bit.
struct ONDI_PACKED BlockQ2_K {
  uint8_t scales[16];  // low nibble: scale, high nibble: min, of sub-block j (values 16j..16j+15)
  uint8_t qs[64];      // 2-bit quants, plane packing above
  uint16_t d;          // fp16 super-scale of the scales
  uint16_t dmin;       // fp16 super-scale of the mins
};

// Q3_K: 16 sub-blocks of 16 values; x = d * (sc[j] - 32) * (q - 4), q in [0, 7], sc 6-bit.
// Low 2 bits of q: plane packing in qs. Bit 2 of q: value v's bit is bit (v / 32) of hmask[v % 32].
// The 16 6-bit scales are packed in 12 bytes: for j < 8 the low nibble of scales[j] is sc[j]'s low
// 4 bits, for j >= 8 the high nibble of scales[j - 8]; the top 2 bits of sc[j] are bits 2*(j/4)..+1 of
// scales[8 + j%4].
struct ONDI_PACKED BlockQ3_K {
  uint8_t hmask[32];   // high bit of each 3-bit quant
  uint8_t qs[64];      // low 2 bits, plane packing
  uint8_t scales[12];  // 16 x 6-bit scales, biased by 32
  uint16_t d;          // fp16 super-scale
};

// Q4_K / Q5_K share a 12-byte encoding of 8 6-bit scales sc[j] and 8 6-bit mins mn[j] (sub-blocks of 32):
//   j < 4:  sc[j] = scales[j] & 63,                         mn[j] = scales[j + 4] & 63
//   j >= 4: sc[j] = (scales[j + 4] & 15) | (scales[j - 4] >> 6) << 4,
//           mn[j] = (scales[j + 4] >> 4) | (scales[j] >> 6) << 4
// i.e. bytes 0..7 carry the first four scales/mins in their low 6 bits and the high 2 bits of the last
// four in their top 2 bits; bytes 8..11 carry the low nibbles of the last four.
inline constexpr size_t kKScaleSize = 12;

// Q4_K: x = d * sc[j] * q - dmin * mn[j], q in [0, 15]. qs: 4 chunks of 32 bytes; chunk c holds values
// 64c + l in the low nibble and 64c + 32 + l in the high nibble of byte 32c + l.
struct ONDI_PACKED BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleSize];
  uint8_t qs[128];
};

// Q5_K: as Q4_K with q in [0, 31]; bit 4 of value 32k + l (k = 0..7) is bit k of qh[l].
struct ONDI_PACKED BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[kKScaleSize];
  uint8_t qh[32];
  uint8_t qs[128];
};

// Q6_K: 16 sub-blocks of 16 values; x = d * sc[j] * (q - 32), q in [0, 63], sc a signed 8-bit scale.
// Per half h (128 values), with ql = ql + 64h, qh = qh + 32h and l in [0, 32):
//   value 128h + l      : low nibble of ql[l],      bits 0-1 of qh[l]
//   value 128h + l + 32 : low nibble of ql[l + 32], bits 2-3 of qh[l]
//   value 128h + l + 64 : high nibble of ql[l],     bits 4-5 of qh[l]
//   value 128h + l + 96 : high nibble of ql[l + 32], bits 6-7 of qh[l]
struct ONDI_PACKED BlockQ6_K {
  uint8_t ql[128];    // low 4 bits
  uint8_t qh[64];     // high 2 bits
  int8_t scales[16];  // signed sub-block scales
  uint16_t d;         // fp16 super-scale
};

// Q8_K (activations only): x = d * q, q in [-127, 127]; d is a full f32 (activations need the range);
// bsums[k] = sum of q over values 16k..16k+15, which lets the dot with a weight's per-sub-block mins
// skip a pass over the values.
struct ONDI_PACKED BlockQ8_K {
  float d;
  int8_t qs[256];
  int16_t bsums[16];
};

#undef ONDI_PACKED

// The sizes are the file format: they must equal the type table (types.cpp) and the reference's structs.
static_assert(sizeof(BlockQ4_0) == 18 && alignof(BlockQ4_0) == 1);
static_assert(sizeof(BlockQ4_1) == 20 && alignof(BlockQ4_1) == 1);
static_assert(sizeof(BlockQ5_0) == 22 && alignof(BlockQ5_0) == 1);
static_assert(sizeof(BlockQ5_1) == 24 && alignof(BlockQ5_1) == 1);
static_assert(sizeof(BlockQ8_0) == 34 && alignof(BlockQ8_0) == 1);
static_assert(sizeof(BlockQ8_1) == 36 && alignof(BlockQ8_1) == 1);
static_assert(sizeof(BlockIQ4_NL) == 18 && alignof(BlockIQ4_NL) == 1);
static_assert(sizeof(BlockQ2_K) == 84 && alignof(BlockQ2_K) == 1);
static_assert(sizeof(BlockQ3_K) == 110 && alignof(BlockQ3_K) == 1);
static_assert(sizeof(BlockQ4_K) == 144 && alignof(BlockQ4_K) == 1);
static_assert(sizeof(BlockQ5_K) == 176 && alignof(BlockQ5_K) == 1);
static_assert(sizeof(BlockQ6_K) == 210 && alignof(BlockQ6_K) == 1);
static_assert(sizeof(BlockQ8_K) == 292 && alignof(BlockQ8_K) == 1);

// Maps a type to its block struct, for code generic over formats (and the checks below).
template <GgmlType T>
struct BlockOf;
template <>
struct BlockOf<GgmlType::Q4_0> {
  using type = BlockQ4_0;
};
template <>
struct BlockOf<GgmlType::Q4_1> {
  using type = BlockQ4_1;
};
template <>
struct BlockOf<GgmlType::Q5_0> {
  using type = BlockQ5_0;
};
template <>
struct BlockOf<GgmlType::Q5_1> {
  using type = BlockQ5_1;
};
template <>
struct BlockOf<GgmlType::Q8_0> {
  using type = BlockQ8_0;
};
template <>
struct BlockOf<GgmlType::Q8_1> {
  using type = BlockQ8_1;
};
template <>
struct BlockOf<GgmlType::IQ4_NL> {
  using type = BlockIQ4_NL;
};
template <>
struct BlockOf<GgmlType::Q2_K> {
  using type = BlockQ2_K;
};
template <>
struct BlockOf<GgmlType::Q3_K> {
  using type = BlockQ3_K;
};
template <>
struct BlockOf<GgmlType::Q4_K> {
  using type = BlockQ4_K;
};
template <>
struct BlockOf<GgmlType::Q5_K> {
  using type = BlockQ5_K;
};
template <>
struct BlockOf<GgmlType::Q6_K> {
  using type = BlockQ6_K;
};
template <>
struct BlockOf<GgmlType::Q8_K> {
  using type = BlockQ8_K;
};

}  // namespace ondi
