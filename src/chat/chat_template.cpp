#include "chat/chat_template.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace ondi::chat {

using jinja::Value;
using ojson = nlohmann::ordered_json;

namespace {

Value convert(const ojson& j, int depth) {
  if (depth > jinja::kMaxDepth) jinja::fail("nested deeper than " + std::to_string(jinja::kMaxDepth) + " levels");
  switch (j.type()) {
    case ojson::value_t::null:
      return Value::null();
    case ojson::value_t::boolean:
      return Value(j.get<bool>());
    case ojson::value_t::number_integer:
      return Value(static_cast<int64_t>(j.get<int64_t>()));
    case ojson::value_t::number_unsigned: {
      const uint64_t u = j.get<uint64_t>();
      if (u <= static_cast<uint64_t>(INT64_MAX)) return Value(static_cast<int64_t>(u));
      return Value(static_cast<double>(u));
    }
    case ojson::value_t::number_float: {
      // JavaScript has one number type: 2.0 in JSON is the integer 2 to @huggingface/jinja.
      const double d = j.get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9007199254740992.0)
        return Value(static_cast<int64_t>(d));
      return Value(d);
    }
    case ojson::value_t::string:
      return Value(j.get<std::string>());
    case ojson::value_t::array: {
      jinja::Array a;
      a.reserve(j.size());
      for (const auto& x : j) a.push_back(convert(x, depth + 1));
      return Value::array(std::move(a));
    }
    case ojson::value_t::object: {
      jinja::Object o;
      for (auto it = j.begin(); it != j.end(); ++it) o.set(it.key(), convert(it.value(), depth + 1));
      return Value::object(std::move(o));
    }
    default:
      jinja::fail("unsupported JSON value");
  }
}

}  // namespace

Result<Value> json_to_value(std::string_view json, const char* what) {
  ojson j;
  try {
    j = ojson::parse(json.begin(), json.end());
  } catch (const ojson::parse_error& e) {
    return Status(Errc::invalid_argument,
                  std::string(what) + ": invalid JSON at byte " + std::to_string(e.byte) + ": " + e.what());
  }
  try {
    return convert(j, 0);
  } catch (const jinja::Error& e) {
    return Status(Errc::invalid_argument, std::string(what) + ": " + e.message);
  }
}

Result<Value> build_context(const ChatRequest& req) {
  jinja::Object ctx;
  ONDI_ASSIGN_OR_RETURN(Value messages, json_to_value(req.messages_json, "messages"));
  if (!messages.is_array()) return Status(Errc::invalid_argument, "messages: expected a JSON array");
  for (const auto& m : messages.arr())
    if (!m.is_object()) return Status(Errc::invalid_argument, "messages: every message must be a JSON object");
  ctx.set("messages", messages);
  if (!req.tools_json.empty()) {
    ONDI_ASSIGN_OR_RETURN(Value tools, json_to_value(req.tools_json, "tools"));
    if (!tools.is_array() && !tools.is_null()) return Status(Errc::invalid_argument, "tools: expected a JSON array");
    ctx.set("tools", tools);
  }
  ctx.set("add_generation_prompt", Value(req.add_generation_prompt));
  ctx.set("bos_token", Value(req.bos_token));
  ctx.set("eos_token", Value(req.eos_token));
  if (!req.extra_json.empty()) {
    ONDI_ASSIGN_OR_RETURN(Value extra, json_to_value(req.extra_json, "extra variables"));
    if (!extra.is_object()) return Status(Errc::invalid_argument, "extra variables: expected a JSON object");
    for (const auto& kv : extra.obj().items()) ctx.set(kv.first, kv.second);
  }
  try {
    return Value::object(std::move(ctx));
  } catch (const jinja::Error& e) {
    return Status(Errc::invalid_argument, e.message);
  }
}

Result<std::string> apply_template(std::string_view tmpl, const ChatRequest& req) {
  ONDI_ASSIGN_OR_RETURN(Value ctx, build_context(req));
  auto t = jinja::Template::parse(tmpl);
  if (!t.ok()) return Status(t.status().code(), "chat template: " + t.status().message());
  jinja::RenderOptions opts;
  opts.now = req.now;
  auto out = t->render(ctx, opts);
  if (!out.ok()) return Status(out.status().code(), "chat template: " + out.status().message());
  return out;
}

const char* chatml_template() {
  return "{%- for message in messages %}"
         "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
         "{%- endfor %}"
         "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";
}

}  // namespace ondi::chat
