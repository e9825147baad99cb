// The chat-template C API (against libondi.so, as an integrator links it): size-in/size-out buffers, the
// model's template or a given one, clear errors.
#include <gtest/gtest.h>

#include <string>

#include "ondi/ondi.h"

namespace {

const char* kTmpl =
    "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}"
    "{% if add_generation_prompt %}[assistant]{% endif %}";

TEST(CapiChat, RendersWithSizeInSizeOut) {
  const ondi_chat_message msgs[] = {{"system", "Be brief."}, {"user", "Hi é"}};
  size_t n = 0;
  // Without a model: bos_token is "". Asking for the size first.
  ASSERT_EQ(ondi_chat_apply_template(nullptr, kTmpl, msgs, 2, 1, nullptr, &n), ONDI_ERR_BUFFER_TOO_SMALL);
  const std::string want = "[system]Be brief.[user]Hi é[assistant]";
  ASSERT_EQ(n, want.size());
  std::string buf(n + 1, 'x');
  n = buf.size();  // room for the NUL too
  ASSERT_EQ(ondi_chat_apply_template(nullptr, kTmpl, msgs, 2, 1, buf.data(), &n), ONDI_OK) << ondi_last_error();
  EXPECT_EQ(std::string(buf.data(), n), want);
  EXPECT_EQ(buf[n], '\0');
}

TEST(CapiChat, JsonVariantWithToolsAndExtra) {
  const char* tmpl = "{{ messages[0].tool_calls[0].function.name }}|{{ tools | length }}|{{ enable_thinking }}";
  char buf[64];
  size_t n = sizeof buf;
  ASSERT_EQ(
      ondi_chat_apply_template_json(
          nullptr, tmpl,
          R"([{"role": "assistant", "content": null, "tool_calls": [{"function": {"name": "f", "arguments": {}}}]}])",
          R"([{"type": "function"}, {"type": "function"}])", R"({"enable_thinking": false})", 0, buf, &n),
      ONDI_OK)
      << ondi_last_error();
  EXPECT_EQ(std::string(buf, n), "f|2|false");
}

TEST(CapiChat, ErrorsAreClear) {
  const ondi_chat_message msgs[] = {{"user", "Hi"}};
  char buf[64];
  size_t n = sizeof buf;
  EXPECT_EQ(ondi_chat_apply_template(nullptr, "ok\n{% for x in %}", msgs, 1, 1, buf, &n), ONDI_ERR_FORMAT);
  EXPECT_NE(std::string(ondi_last_error()).find("line 2, column"), std::string::npos) << ondi_last_error();
  n = sizeof buf;
  EXPECT_EQ(ondi_chat_apply_template(nullptr, "{{ raise_exception('no') }}", msgs, 1, 1, buf, &n), ONDI_ERR_FORMAT);
  EXPECT_NE(std::string(ondi_last_error()).find("raised an exception: no"), std::string::npos);
  n = sizeof buf;
  EXPECT_EQ(ondi_chat_apply_template(nullptr, nullptr, msgs, 1, 1, buf, &n), ONDI_ERR_INVALID_ARGUMENT);
  const ondi_chat_message bad[] = {{"user", nullptr}};
  EXPECT_EQ(ondi_chat_apply_template(nullptr, kTmpl, bad, 1, 1, buf, &n), ONDI_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ondi_chat_apply_template_json(nullptr, kTmpl, "[oops", nullptr, nullptr, 1, buf, &n),
            ONDI_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ondi_chat_apply_template(nullptr, kTmpl, msgs, 1, 1, buf, nullptr), ONDI_ERR_INVALID_ARGUMENT);
}

TEST(CapiChat, ModelWithoutTemplateAndBosText) {
  ondi_model* m = nullptr;
  ASSERT_EQ(ondi_model_load(ONDI_GOLDEN_DIR "/llama3-tok-f16.gguf", nullptr, &m), ONDI_OK) << ondi_last_error();
  EXPECT_EQ(ondi_model_chat_template(m), nullptr);  // the golden file carries none
  const ondi_chat_message msgs[] = {{"user", "Hi"}};
  char buf[256];
  size_t n = sizeof buf;
  EXPECT_EQ(ondi_chat_apply_template(m, nullptr, msgs, 1, 0, buf, &n), ONDI_ERR_INVALID_ARGUMENT);
  n = sizeof buf;
  ASSERT_EQ(ondi_chat_apply_template(m, kTmpl, msgs, 1, 0, buf, &n), ONDI_OK) << ondi_last_error();
  // Llama 3's BOS is <|begin_of_text|> (token 128000), rendered as its text.
  EXPECT_EQ(std::string(buf, n), "<|begin_of_text|>[user]Hi");
  ondi_model_free(m);
}

}  // namespace
