// C API: chat templates (src/chat) over the public model functions. Reentrant: nothing here is shared
// between calls except the read-only model.
#include <cstring>
#include <nlohmann/json.hpp>
#include <string>

#include "capi/capi_internal.h"
#include "chat/chat_template.h"
#include "ondi/ondi.h"

using ondi::capi::fail;
using ondi::capi::from_status;

namespace {

std::string token_text(const ondi_model* model, int32_t id) {
  if (!model || id < 0) return "";
  char buf[256];
  size_t n = sizeof buf;
  if (ondi_token_to_piece(model, id, 1, buf, &n) != ONDI_OK) return "";
  return std::string(buf, n);
}

ondi_status render(const ondi_model* model, const char* tmpl, std::string messages_json, const char* tools_json,
                   const char* extra_json, int add_generation_prompt, char* buf, size_t* size) {
  if (!size) return fail(ONDI_ERR_INVALID_ARGUMENT, "ondi_chat_apply_template: size is NULL");
  if (!tmpl) {
    if (!model) return fail(ONDI_ERR_INVALID_ARGUMENT, "ondi_chat_apply_template: no template and no model");
    tmpl = ondi_model_chat_template(model);
    if (!tmpl) return fail(ONDI_ERR_INVALID_ARGUMENT, "the model file has no chat template (tokenizer.chat_template)");
  }
  ondi::chat::ChatRequest req;
  req.messages_json = std::move(messages_json);
  if (tools_json) req.tools_json = tools_json;
  if (extra_json) req.extra_json = extra_json;
  req.add_generation_prompt = add_generation_prompt != 0;
  req.bos_token = token_text(model, model ? ondi_token_bos(model) : -1);
  req.eos_token = token_text(model, model ? ondi_token_eos(model) : -1);
  auto r = ondi::chat::apply_template(tmpl, req);
  if (!r.ok()) return from_status(r.status());
  const size_t cap = *size;
  *size = r->size();
  if (!buf || cap < r->size())
    return fail(ONDI_ERR_BUFFER_TOO_SMALL,
                "ondi_chat_apply_template: the prompt needs " + std::to_string(r->size()) + " bytes");
  std::memcpy(buf, r->data(), r->size());
  if (cap > r->size()) buf[r->size()] = '\0';
  return ONDI_OK;
}

}  // namespace

extern "C" {

ONDI_API const char* ondi_model_chat_template(const ondi_model* model) {
  const char* v = nullptr;
  if (!model || ondi_model_meta_str(model, "tokenizer.chat_template", &v) != ONDI_OK) return nullptr;
  return v;
}

ONDI_API ondi_status ondi_chat_apply_template(const ondi_model* model, const char* tmpl,
                                              const ondi_chat_message* messages, size_t n_messages,
                                              int add_generation_prompt, char* buf, size_t* size) {
  try {
    if (!messages && n_messages) return fail(ONDI_ERR_INVALID_ARGUMENT, "ondi_chat_apply_template: messages is NULL");
    nlohmann::ordered_json arr = nlohmann::ordered_json::array();
    for (size_t i = 0; i < n_messages; ++i) {
      if (!messages[i].role || !messages[i].content)
        return fail(ONDI_ERR_INVALID_ARGUMENT,
                    "ondi_chat_apply_template: messages[" + std::to_string(i) + "] has a NULL role or content");
      arr.push_back({{"role", messages[i].role}, {"content", messages[i].content}});
    }
    std::string json;
    try {
      json = arr.dump();
    } catch (const nlohmann::json::type_error&) {
      return fail(ONDI_ERR_INVALID_ARGUMENT, "ondi_chat_apply_template: a message is not valid UTF-8");
    }
    return render(model, tmpl, std::move(json), nullptr, nullptr, add_generation_prompt, buf, size);
  } catch (...) {
    return ondi::capi::from_current_exception("ondi_chat_apply_template");
  }
}

ONDI_API ondi_status ondi_chat_apply_template_json(const ondi_model* model, const char* tmpl, const char* messages_json,
                                                   const char* tools_json, const char* extra_json,
                                                   int add_generation_prompt, char* buf, size_t* size) {
  try {
    if (!messages_json) return fail(ONDI_ERR_INVALID_ARGUMENT, "ondi_chat_apply_template_json: messages_json is NULL");
    return render(model, tmpl, messages_json, tools_json, extra_json, add_generation_prompt, buf, size);
  } catch (...) {
    return ondi::capi::from_current_exception("ondi_chat_apply_template_json");
  }
}

}  // extern "C"
