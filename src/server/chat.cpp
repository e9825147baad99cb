#include <vector>

#include "server/server.h"

namespace ondi::server {

bool render_chat(const ondi_model* model, const std::vector<std::pair<std::string, std::string>>& messages,
                 std::string& out, bool& from_model, std::string& error) {
  from_model = ondi_model_chat_template(model) != nullptr;
  if (!from_model) {
    // ChatML: the format Qwen models are trained on, and a common fallback for models without a template.
    out.clear();
    for (const auto& [role, content] : messages) out += "<|im_start|>" + role + "\n" + content + "<|im_end|>\n";
    out += "<|im_start|>assistant\n";
    return true;
  }
  std::vector<ondi_chat_message> msgs;
  for (const auto& [role, content] : messages) msgs.push_back({role.c_str(), content.c_str()});
  size_t size = 0;
  ondi_status st = ondi_chat_apply_template(model, nullptr, msgs.data(), msgs.size(), 1, nullptr, &size);
  if (st == ONDI_ERR_BUFFER_TOO_SMALL || st == ONDI_OK) {
    out.assign(size + 1, '\0');
    size = out.size();
    st = ondi_chat_apply_template(model, nullptr, msgs.data(), msgs.size(), 1, out.data(), &size);
    out.resize(size);
  }
  if (st != ONDI_OK) {
    error = std::string("the model's chat template failed: ") + ondi_last_error();
    return false;
  }
  return true;
}

}  // namespace ondi::server
