// `ondi list`: the models in the cache (docs/MODELS.md); `--available` lists the aliases one can download.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "common.h"
#include "hub.h"

namespace ondi_cli {
namespace {

namespace fs = std::filesystem;

struct Entry {
  std::string ref, alias, size, path;
};

std::string pad(std::string s, size_t w) {
  if (s.size() < w) s.resize(w, ' ');
  return s;
}

int cmd_list(bool available) {
  if (available) {
    size_t w_name = 5, w_ref = 5;
    for (const auto& a : hub::aliases()) {
      w_name = std::max(w_name, std::strlen(a.name));
      w_ref = std::max(w_ref, std::strlen(a.repo) + std::strlen(a.file) + 6);
    }
    std::printf("%s  %s  ABOUT\n", pad("ALIAS", w_name).c_str(), pad("MODEL", w_ref).c_str());
    for (const auto& a : hub::aliases())
      std::printf("%s  %s  %s\n", pad(a.name, w_name).c_str(),
                  pad("hf://" + std::string(a.repo) + "/" + a.file, w_ref).c_str(), a.about);
    return 0;
  }
  const std::string root = hub::cache_dir();
  std::vector<Entry> rows;
  std::error_code ec;
  // Bounded: a cache holds OWNER/REPO/FILE trees, never deep ones; symlinks are not followed.
  fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (it.depth() > 32) {
      it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec)) continue;
    const fs::path rel = it->path().lexically_relative(root);
    std::vector<std::string> parts;
    for (const auto& p : rel) parts.push_back(p.string());
    std::string file = rel.string();
    if (parts.size() < 3 || file.ends_with(".lock")) continue;
    const bool partial = file.ends_with(".part");
    if (partial) file.resize(file.size() - 5);
    const std::string repo_dir = parts[0] + "/" + parts[1];
    const std::string in_repo = file.substr(repo_dir.size() + 1);
    Entry e;
    e.ref = "hf://" + repo_dir + "/" + in_repo;
    for (const auto& a : hub::aliases())
      if (repo_dir == a.repo && in_repo == a.file) e.alias = a.name;
    e.size = human_bytes(static_cast<double>(it->file_size(ec))) + (partial ? " (partial)" : "");
    e.path = it->path().string();
    rows.push_back(std::move(e));
  }
  if (rows.empty()) {
    std::printf(
        "no models in %s (`ondi run hf://OWNER/REPO/FILE.gguf ...` or an alias downloads one; "
        "`ondi list --available` lists the aliases)\n",
        root.c_str());
    return 0;
  }
  std::sort(rows.begin(), rows.end(), [](const Entry& a, const Entry& b) { return a.ref < b.ref; });
  size_t w_ref = 5, w_alias = 5, w_size = 4;
  for (const auto& r : rows) {
    w_ref = std::max(w_ref, r.ref.size());
    w_alias = std::max(w_alias, r.alias.size());
    w_size = std::max(w_size, r.size.size());
  }
  std::printf("%s  %s  %s  PATH\n", pad("MODEL", w_ref).c_str(), pad("ALIAS", w_alias).c_str(),
              pad("SIZE", w_size).c_str());
  for (const auto& r : rows)
    std::printf("%s  %s  %s  %s\n", pad(r.ref, w_ref).c_str(), pad(r.alias.empty() ? "-" : r.alias, w_alias).c_str(),
                pad(r.size, w_size).c_str(), r.path.c_str());
  return 0;
}

const RegisterCommand kRegister(50, [](CLI::App& app) -> Runner {
  auto available = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand("list", "List the downloaded models (cache: $ONDI_CACHE or ~/.cache/ondi)");
  cmd->add_flag("--available", *available, "List the model aliases instead (e.g. llama3.2:1b)");
  return [cmd, available]() -> int {
    if (!cmd->parsed()) return -1;
    return cmd_list(*available);
  };
});

}  // namespace
}  // namespace ondi_cli
