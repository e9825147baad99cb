// Chat templates: a conversation (messages, tools, options) rendered into the model's prompt text with the
// model's Jinja template, the way transformers' apply_chat_template calls it.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "chat/jinja.h"
#include "core/status.h"

namespace ondi::chat {

struct ChatRequest {
  std::string messages_json;  // [{"role": ..., "content": string | [parts], "tool_calls": [...]}, ...]
  std::string tools_json;     // a list of tools, or "" for none (the variable is then undefined)
  std::string extra_json;     // an object of extra variables ({"enable_thinking": false}), or ""
  bool add_generation_prompt = true;
  std::string bos_token, eos_token;
  std::optional<std::tm> now;  // what strftime_now() sees (tests fix it)
};

// Parses JSON into a template value: key order kept, integral numbers as integers (as JavaScript reads them),
// nesting bounded. `what` names the input in errors.
Result<jinja::Value> json_to_value(std::string_view json, const char* what);

// The variables the template sees: messages, tools (when given), add_generation_prompt, bos_token, eos_token,
// then every key of extra_json.
Result<jinja::Value> build_context(const ChatRequest& req);

Result<std::string> apply_template(std::string_view tmpl, const ChatRequest& req);

// Used when a model file carries no template: ChatML (<|im_start|>role\ncontent<|im_end|>\n), which Qwen and
// many fine-tunes use.
const char* chatml_template();

}  // namespace ondi::chat
