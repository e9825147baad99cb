// libFuzzer target: the Jinja chat-template renderer with a hostile template and hostile messages. Input: the
// template text, then optionally a NUL byte and the messages as JSON (a fixed conversation with tool calls and tools
// otherwise). The input's length picks add_generation_prompt. Any outcome but an error Status (or the rendered text)
// is a bug: crash, sanitizer report, leak, timeout, or output past the renderer's limit.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>

#include "chat/chat_template.h"
#include "chat/jinja.h"

namespace {

[[noreturn]] void bug(const char* what) {
  std::fprintf(stderr, "fuzz_chat_template: %s\n", what);
  std::abort();
}

constexpr const char* kMessages =
    R"([{"role":"system","content":"Be brief."},{"role":"user","content":"What is 1+2?"},)"
    R"({"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function",)"
    R"("function":{"name":"add","arguments":{"a":1,"b":2}}}]},{"role":"tool","tool_call_id":"c1","content":"3"},)"
    R"({"role":"assistant","content":"<think>sum</think>3"},{"role":"user","content":[{"type":"text","text":"ok"}]}])";
constexpr const char* kTools =
    R"([{"type":"function","function":{"name":"add","description":"a+b","parameters":{"type":"object",)"
    R"("properties":{"a":{"type":"integer"},"b":{"type":"integer"}},"required":["a","b"]}}}])";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t cut = in.find('\0');
  ondi::chat::ChatRequest req;
  req.messages_json = cut == std::string_view::npos ? kMessages : std::string(in.substr(cut + 1));
  req.tools_json = kTools;
  req.extra_json = R"({"enable_thinking":false})";
  req.add_generation_prompt = size % 2 == 0;
  req.bos_token = "<s>";
  req.eos_token = "</s>";
  std::tm now{};
  now.tm_year = 126;
  now.tm_mday = 21;
  req.now = now;
  auto out = ondi::chat::apply_template(in.substr(0, cut), req);
  if (!out.ok()) {
    if (out.status().message().empty()) bug("error without a message");
    return 0;
  }
  if (out->size() > ondi::jinja::RenderOptions{}.max_output) bug("output past the renderer's limit");
  return 0;
}
