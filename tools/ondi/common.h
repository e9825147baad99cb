// Shared pieces of the `ondi` subcommands. The tool uses only the public C API (include/ondi/ondi.h).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ondi/ondi.h"

namespace ondi_cli {

// A subcommand registers itself from its own file: `setup` adds it and its options to the app and returns
// what to run when it is the one parsed. `order` sorts `ondi --help`.
using Runner = std::function<int()>;
struct CommandDef {
  int order;
  std::function<Runner(CLI::App& app)> setup;
};
std::vector<CommandDef>& registry();
struct RegisterCommand {
  RegisterCommand(int order, std::function<Runner(CLI::App&)> setup) {
    registry().push_back({order, std::move(setup)});
  }
};

struct Common {
  int threads = 0;
  int ctx = 4096;
  int batch = 512;
  int outputs = 1;              // logit rows per forward pass (set by subcommands that need more)
  std::string memory_limit;     // e.g. "512M", "2G"; empty: none
  bool fit = false;             // quantize the KV cache, then shorten the context, to fit the memory limit
  std::string kv_type = "f16";  // f16 or q8_0

  ondi_session_params session_params() const;
};

// "512M", "1.5G", "2GiB", "1000000" -> bytes; dies with a clear message otherwise.
uint64_t parse_size(const std::string& s);

struct Sampling {
  float temp = 0.8f;
  int top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  int repeat_last_n = 64;
  float frequency_penalty = 0.0f;
  float presence_penalty = 0.0f;
  uint64_t seed = 0;
  std::vector<std::string> logit_bias;  // "ID:BIAS" or "ID:-inf"

  // Fills p (pointing into `ids`/`vals` for the logit bias, which must outlive p's use).
  void to_params(ondi_sampler_params& p, std::vector<int32_t>& ids, std::vector<float>& vals) const;
};

void add_common(CLI::App* app, Common& c);
void add_sampling(CLI::App* app, Sampling& s);

[[noreturn]] void die(const std::string& what);
void check(ondi_status st, const char* what);

struct ModelHandle {
  ondi_model* m = nullptr;
  explicit ModelHandle(const std::string& path);
  ~ModelHandle();
  ModelHandle(const ModelHandle&) = delete;
  ModelHandle& operator=(const ModelHandle&) = delete;
};

struct SessionHandle {
  ondi_session* s = nullptr;
  SessionHandle(const ondi_model* m, const Common& c);
  ~SessionHandle();
  SessionHandle(const SessionHandle&) = delete;
  SessionHandle& operator=(const SessionHandle&) = delete;
};

ondi_model_info model_info(const ondi_model* m);
std::vector<int32_t> tokenize(const ondi_model* m, const std::string& text, bool add_special);
// The ids the model puts before any text (BOS for models that ask for it), or none without a tokenizer.
std::vector<int32_t> prefix_ids(const ondi_model* m);
std::string read_file(const std::string& path);
std::string human_bytes(double b);

}  // namespace ondi_cli
