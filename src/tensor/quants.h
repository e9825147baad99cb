// Scalar (de)quantization of every supported block layout: the executable spec of the GGUF formats.
#pragma once

#include <cstdint>

#include "tensor/types.h"

namespace ondi {

// Decodes n elements (a multiple of the type's block size) of type t at src into dst.
// Supports every weight type plus Q8_0, Q8_1 and Q8_K.
void dequantize_row(GgmlType t, const void* src, float* dst, int64_t n);

// Reference quantizer from f32: true for every weight type in types.h (and Q8_1, Q8_K).
bool can_quantize(GgmlType t);
// Encodes n elements (multiple of the block size) of src into dst (row_size(t, n) bytes).
void quantize_row(GgmlType t, const float* src, void* dst, int64_t n);

}  // namespace ondi
