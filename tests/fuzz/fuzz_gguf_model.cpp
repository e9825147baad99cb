// libFuzzer target: a GGUF file from a stranger, all the way down. The input is the whole file:
//   GgufFile::from_memory -> dequantize_row of every row of every tensor -> Model::load (hyper-parameters,
//   weight binding, vocabulary, tokenizer) -> for small models, encode a short text and run a one-token forward
//   pass. Any outcome but an error Status (or success) is a bug: crash, sanitizer report, leak, timeout.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "gguf/gguf.h"
#include "model/model.h"
#include "runtime/context.h"
#include "tensor/quants.h"
#include "tensor/types.h"

namespace {

// A one-token forward pass touches every weight once; above this the target would spend its time multiplying
// instead of exploring the parsers. The golden models (up to 6.5 MB of weights) still run.
constexpr uint64_t kMaxForwardWeightBytes = uint64_t{8} << 20;

[[noreturn]] void bug(const char* what) {
  std::fprintf(stderr, "fuzz_gguf_model: %s\n", what);
  std::abort();
}

void dequantize_all(const ondi::GgufFile& f) {
  std::vector<float> row;
  for (const ondi::GgufTensorInfo& t : f.tensors()) {
    if (t.n_bytes == 0) continue;
    const std::optional<size_t> rb = ondi::row_size(t.type, t.ne[0]);
    if (!rb || *rb == 0) bug("reader accepted a tensor whose row size it cannot compute");
    if (t.n_bytes % *rb != 0) bug("tensor byte size is not a whole number of rows");
    row.resize(static_cast<size_t>(t.ne[0]));
    const uint8_t* p = f.tensor_data(t);
    for (uint64_t r = 0; r < t.n_bytes / *rb; ++r) ondi::dequantize_row(t.type, p + r * *rb, row.data(), t.ne[0]);
  }
}

void run_model(const ondi::Model& m) {
  if (const ondi::Tokenizer* tok = m.tokenizer()) {
    auto ids = tok->encode("Hello, world! <|eot_id|> 1234 \xE2\x82", true, true);
    if (ids.ok())
      for (int32_t id : *ids)
        if (id < 0 || id >= tok->n_vocab()) bug("encode returned an id outside the vocabulary");
  }
  if (m.weight_bytes() > kMaxForwardWeightBytes) return;
  ondi::ContextParams cp;
  cp.n_ctx = 4;
  cp.n_batch = 2;
  cp.n_threads = 1;
  auto ctx = ondi::Context::create(m, cp);
  if (!ctx.ok()) return;
  ondi::Batch b;
  b.add(0, 0, 0, true);
  b.add(static_cast<int32_t>(m.hparams().n_vocab - 1), 1, 0, true);
  if (!(*ctx)->decode(b).ok()) return;
  for (size_t i = 0; i < b.size(); ++i)
    if ((*ctx)->logits(i) == nullptr) bug("decode succeeded without the logits it was asked for");
  // A bad id must be refused, not read out of bounds.
  ondi::Batch bad;
  bad.add(static_cast<int32_t>(m.hparams().n_vocab), 2, 0, true);
  if ((*ctx)->decode(bad).ok()) bug("decode accepted a token id == n_vocab");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = ondi::GgufFile::from_memory(data, size, "fuzz.gguf");
  if (!file.ok()) {
    if (file.status().message().empty()) bug("error without a message");
    return 0;
  }
  dequantize_all(**file);
  auto model = ondi::Model::load(std::move(file).value());
  if (!model.ok()) {
    if (model.status().message().empty()) bug("error without a message");
    return 0;
  }
  run_model(**model);
  return 0;
}
