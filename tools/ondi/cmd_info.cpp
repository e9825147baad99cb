// `ondi info MODEL`: metadata, tensors, parameter count, memory needed.
#include <cinttypes>
#include <cstdio>

#include "common.h"

namespace ondi_cli {
namespace {

int cmd_info(const std::string& path, const Common& c, bool show_plan) {
  ModelHandle model(path);
  const ondi_model_info info = model_info(model.m);
  std::printf("file: %s (GGUF v%u, %s)\n", path.c_str(), info.gguf_version,
              human_bytes(double(info.file_size)).c_str());
  std::printf("architecture: %s  name: %s\n", info.architecture, info.name);
  std::printf("parameters: %" PRId64 " (%.3f B)\n", info.n_params, info.n_params / 1e9);
  std::printf("shape: embd %" PRId64 ", layers %" PRId64 ", heads %" PRId64 " (kv %" PRId64 ", dim %" PRId64
              "), ffn %" PRId64 ", vocab %" PRId64 ", trained context %" PRId64 "\n",
              info.n_embd, info.n_layer, info.n_head, info.n_head_kv, info.head_dim, info.n_ff, info.n_vocab,
              info.n_ctx_train);
  ondi_memory_plan plan{};
  plan.struct_size = sizeof(plan);
  const ondi_session_params sp = c.session_params();
  check(ondi_model_memory_plan(model.m, &sp, &plan), "memory plan");
  std::printf("memory: %s resident at peak for a %d-token context (weights %s of a %s mapped file, KV cache %s)\n",
              human_bytes(double(plan.total)).c_str(), plan.n_ctx, human_bytes(double(plan.weights_resident)).c_str(),
              human_bytes(double(plan.file_bytes)).c_str(), human_bytes(double(plan.kv_cache)).c_str());
  if (show_plan) {
    std::printf("\nmemory plan (-c %d, --batch %d, %d threads%s):\n", plan.n_ctx, c.batch, c.threads,
                c.threads == 0 ? " = one per hardware thread" : "");
    const struct {
      const char* what;
      uint64_t bytes;
    } rows[] = {{"weights read by the forward pass (mapped, resident)", plan.weights_resident},
                {"model heap (norms, biases, tokenizer tables)", plan.model_heap},
                {plan.kv_type == ONDI_TYPE_Q8_0 ? "KV cache (Q8_0)" : "KV cache (F16)", plan.kv_cache},
                {"scratch (activations, logits)", plan.scratch},
                {"overhead (code, libraries, stacks)", plan.overhead}};
    for (const auto& r : rows) std::printf("  %-54s %12s\n", r.what, human_bytes(double(r.bytes)).c_str());
    std::printf("  %-54s %12s\n", "total resident at peak", human_bytes(double(plan.total)).c_str());
    std::printf("  total_bytes %llu\n", static_cast<unsigned long long>(plan.total));
    return 0;
  }
  std::printf("tokenizer: %s\n", info.has_tokenizer ? "yes" : "none");
  std::printf("\nmetadata (%" PRId64 " keys):\n", ondi_model_meta_count(model.m));
  for (int64_t i = 0; i < ondi_model_meta_count(model.m); ++i) {
    const char *key, *value;
    check(ondi_model_meta_at(model.m, i, &key, &value, nullptr), "metadata");
    std::printf("  %-48s %s\n", key, value);
  }
  std::printf("\ntensors (%" PRId64 "):\n", ondi_model_tensor_count(model.m));
  for (int64_t i = 0; i < ondi_model_tensor_count(model.m); ++i) {
    ondi_tensor_info t{};
    t.struct_size = sizeof(t);
    check(ondi_model_tensor_at(model.m, i, &t), "tensor");
    std::string shape = "[";
    for (int d = 0; d < t.n_dims; ++d) shape += (d ? ", " : "") + std::to_string(t.ne[d]);
    shape += "]";
    const char* tn = ondi_type_name(t.type);
    std::printf("  %-40s %-7s %-20s %s\n", t.name, tn ? tn : "?", shape.c_str(),
                human_bytes(double(t.n_bytes)).c_str());
  }
  return 0;
}

const RegisterCommand kRegister(20, [](CLI::App& app) -> Runner {
  struct Opts {
    std::string model;
    Common common;
    bool plan = false;
  };
  auto o = std::make_shared<Opts>();
  auto* info = app.add_subcommand("info", "Print a model's metadata, tensors, parameter count and memory needs");
  info->add_option("MODEL", o->model, "GGUF model file")->required();
  add_common(info, o->common);
  info->add_flag("--plan", o->plan, "Print only the memory plan for the given -c/--batch/--threads");
  return [info, o]() -> int { return info->parsed() ? cmd_info(o->model, o->common, o->plan) : -1; };
});

}  // namespace
}  // namespace ondi_cli
