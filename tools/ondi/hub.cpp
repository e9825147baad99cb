// Model references, the curated aliases, the cache layout and the lock; the transfer itself is hub_download.cpp.
#include "hub.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common.h"

namespace ondi_cli {
namespace hub {

// Q4_K_M instruct builds from well-known GGUF publishers (bartowski, unsloth, Qwen's own), all of architectures
// and pre-tokenizers ondi runs. Which entries were checked against the hub and which were not: docs/MODELS.md.
const std::vector<Alias>& aliases() {
  static const std::vector<Alias> table = {
      {"llama3.2:1b", "bartowski/Llama-3.2-1B-Instruct-GGUF", "Llama-3.2-1B-Instruct-Q4_K_M.gguf",
       "Llama 3.2 1B Instruct, Q4_K_M (about 0.8 GB)"},
      {"llama3.2:3b", "bartowski/Llama-3.2-3B-Instruct-GGUF", "Llama-3.2-3B-Instruct-Q4_K_M.gguf",
       "Llama 3.2 3B Instruct, Q4_K_M (about 2.0 GB)"},
      {"llama3.1:8b", "bartowski/Meta-Llama-3.1-8B-Instruct-GGUF", "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf",
       "Llama 3.1 8B Instruct, Q4_K_M (about 4.9 GB)"},
      {"qwen3:0.6b", "unsloth/Qwen3-0.6B-GGUF", "Qwen3-0.6B-Q4_K_M.gguf", "Qwen3 0.6B, Q4_K_M (about 0.4 GB)"},
      {"qwen3:1.7b", "unsloth/Qwen3-1.7B-GGUF", "Qwen3-1.7B-Q4_K_M.gguf", "Qwen3 1.7B, Q4_K_M (about 1.1 GB)"},
      {"qwen3:4b", "unsloth/Qwen3-4B-GGUF", "Qwen3-4B-Q4_K_M.gguf", "Qwen3 4B, Q4_K_M (about 2.5 GB)"},
      {"qwen2.5:0.5b", "Qwen/Qwen2.5-0.5B-Instruct-GGUF", "qwen2.5-0.5b-instruct-q4_k_m.gguf",
       "Qwen2.5 0.5B Instruct, Q4_K_M (about 0.5 GB)"},
      {"qwen2.5:1.5b", "Qwen/Qwen2.5-1.5B-Instruct-GGUF", "qwen2.5-1.5b-instruct-q4_k_m.gguf",
       "Qwen2.5 1.5B Instruct, Q4_K_M (about 1.1 GB)"},
      {"smollm2:1.7b", "bartowski/SmolLM2-1.7B-Instruct-GGUF", "SmolLM2-1.7B-Instruct-Q4_K_M.gguf",
       "SmolLM2 1.7B Instruct, Q4_K_M (about 1.1 GB)"},
  };
  return table;
}

namespace {

bool name_ok(const std::string& s) {  // a Hub owner, repository name or revision
  if (s.empty() || s == "." || s == ".." || s.size() > 96) return false;
  for (unsigned char c : s)
    if (!std::isalnum(c) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

bool file_ok(const std::string& f, std::string& why) {  // becomes a path under the cache: no escaping it
  if (f.empty()) return why = "no file after the repository", false;
  if (f.size() > 1024) return why = "file path too long", false;
  size_t start = 0;
  while (start <= f.size()) {
    size_t end = f.find('/', start);
    if (end == std::string::npos) end = f.size();
    const std::string seg = f.substr(start, end - start);
    if (seg.empty() || seg == "." || seg == "..") return why = "empty, '.' or '..' component in '" + f + "'", false;
    start = end + 1;
  }
  for (unsigned char c : f)
    if (c < 0x20 || c == 0x7f || c == '\\') return why = "control character or backslash in '" + f + "'", false;
  return true;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}

}  // namespace

std::string ModelRef::display() const {
  return "hf://" + repo + (revision == "main" ? "" : "@" + revision) + "/" + file;
}

bool parse_ref(const std::string& spec, ModelRef& ref, std::string& err) {
  static const std::string kScheme = "hf://";
  if (spec.compare(0, kScheme.size(), kScheme) != 0) {
    for (const Alias& a : aliases()) {
      if (lower(spec) != a.name) continue;
      ref = ModelRef{a.repo, "main", a.file, a.name};
      return true;
    }
    err = "'" + spec + "' is not a file, an hf:// reference or a known alias";
    return false;
  }
  const std::string rest = spec.substr(kScheme.size());
  const size_t s1 = rest.find('/');
  const size_t s2 = s1 == std::string::npos ? std::string::npos : rest.find('/', s1 + 1);
  if (s2 == std::string::npos) {
    err = "'" + spec + "': expected hf://OWNER/REPO/FILE.gguf (or hf://OWNER/REPO@REVISION/FILE.gguf)";
    return false;
  }
  ModelRef r;
  const std::string owner = rest.substr(0, s1);
  std::string name = rest.substr(s1 + 1, s2 - s1 - 1);
  if (const size_t at = name.find('@'); at != std::string::npos) {
    r.revision = name.substr(at + 1);
    name.resize(at);
    if (!name_ok(r.revision)) {
      err = "'" + spec + "': revision '" + r.revision + "' must be a branch, tag or commit of letters, digits, '-_.'";
      return false;
    }
  }
  if (!name_ok(owner) || !name_ok(name)) {
    err = "'" + spec + "': '" + owner + "/" + name + "' is not a Hub repository name (letters, digits, '-_.')";
    return false;
  }
  r.repo = owner + "/" + name;
  r.file = rest.substr(s2 + 1);
  std::string why;
  if (!file_ok(r.file, why)) {
    err = "'" + spec + "': " + why;
    return false;
  }
  ref = std::move(r);
  return true;
}

std::string cache_dir() {
  auto env = [](const char* k) -> std::string {
    const char* v = std::getenv(k);
    return v && *v ? v : "";
  };
  std::string dir = env("ONDI_CACHE");
  if (dir.empty() && !env("XDG_CACHE_HOME").empty()) dir = env("XDG_CACHE_HOME") + "/ondi";
  if (dir.empty() && !env("HOME").empty()) dir = env("HOME") + "/.cache/ondi";
  if (dir.empty()) die("no model cache directory: set ONDI_CACHE (or HOME)");
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

std::string cache_path(const ModelRef& ref) {
  return cache_dir() + "/" + ref.repo + (ref.revision == "main" ? "" : "@" + ref.revision) + "/" + ref.file;
}

int lock(const std::string& final_path, bool wait) {
  const std::string lock_path = final_path + ".lock";
  // Bounded: each retry means another process removed the lock file between our open() and flock().
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) die("cannot create the lock file '" + lock_path + "': " + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      if (!wait) {
        ::close(fd);
        return -1;
      }
      std::fprintf(stderr, "ondi: waiting for another ondi process to finish with '%s'\n", final_path.c_str());
      int rc;
      while ((rc = ::flock(fd, LOCK_EX)) != 0 && errno == EINTR) {
      }
      if (rc != 0) die("cannot lock '" + lock_path + "': " + std::strerror(errno));
    }
    // The holder we waited for may have removed the file: the lock only counts if the path still names our inode.
    struct stat held {
    }, now{};
    if (::fstat(fd, &held) == 0 && ::stat(lock_path.c_str(), &now) == 0 && held.st_ino == now.st_ino &&
        held.st_dev == now.st_dev)
      return fd;
    ::close(fd);
  }
  die("cannot lock '" + lock_path + "': it keeps being removed by another process");
}

void unlock(int fd, const std::string& final_path) {
  if (fd < 0) return;
  // Removed while still held: a process waiting on this inode notices (its path now names another inode or
  // none) and locks again (hub_download.cpp).
  ::unlink((final_path + ".lock").c_str());
  ::close(fd);
}

}  // namespace hub

std::string resolve_model(const std::string& spec) {
  hub::ModelRef ref;
  std::string err;
  const bool is_hf = spec.rfind("hf://", 0) == 0;
  if (!is_hf && hub::exists(spec)) return spec;
  if (!hub::parse_ref(spec, ref, err)) {
    if (is_hf) die(err);
    // Something shaped like an alias (name:tag, no directory) that is not one: list the ones there are.
    if (spec.find('/') == std::string::npos && spec.find(':') != std::string::npos) {
      std::string names;
      for (const auto& a : hub::aliases()) names += std::string(names.empty() ? "" : ", ") + a.name;
      die(err + "; known aliases: " + names + " (`ondi list --available`)");
    }
    return spec;
  }
  const std::string path = hub::cache_path(ref);
  if (hub::exists(path)) return path;
  err = hub::download(ref);
  if (!err.empty()) die(err);
  return path;
}

}  // namespace ondi_cli
