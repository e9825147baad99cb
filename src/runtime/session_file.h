// Session files: one sequence's tokens, KV cache and last logits, so that a conversation survives a restart and
// continues bit-identically to one that was never interrupted.
//
// Layout (little-endian), version 1:
//   0   char[8]  "ONDISESS"
//   8   u32      version (1)
//   12  u32      kv type (1 = F16, 2 = Q8_0)
//   16  u64      model fingerprint (model_fingerprint())
//   24  u32      n_layer, k_row, v_row, n_vocab, n_tokens, has_logits
//   48  i32      tokens[n_tokens]
//       f32      logits[n_vocab]           (if has_logits)
//       bytes    per layer: K[n_tokens] rows, then V[n_tokens] rows, in the KV type
//       u64      XXH3-64 of every byte before it
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"
#include "runtime/context.h"

namespace ondi {

// Identifies a model file: XXH3 over its header (metadata and tensor infos) and the first 4 KiB of every
// tensor's data, so a file with the same shapes but other weights is told apart without reading it all.
uint64_t model_fingerprint(const Model& m);

struct SessionState {
  std::vector<int32_t> tokens;     // what the KV cache holds, in order
  std::vector<float> last_logits;  // logits after the last token (empty if unknown)
};

// Writes sequence `seq` of ctx (state.tokens.size() must equal its length) atomically: temporary file, rename.
Status save_session(Context& ctx, int32_t seq, const SessionState& state, const std::string& path);
// Replaces sequence `seq` with the file's contents. Every field is checked (magic, version, checksum, model
// fingerprint, shapes, token ids, that it fits the context) before the context is touched.
Result<SessionState> load_session(Context& ctx, int32_t seq, const std::string& path);

}  // namespace ondi
