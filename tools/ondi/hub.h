// Getting models: `hf://OWNER/REPO/FILE.gguf` references and curated aliases (`llama3.2:1b`), downloaded from the
// Hugging Face Hub into a local cache (docs/MODELS.md). A CLI feature: the engine library only ever sees paths.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ondi_cli {

// What the CLI's MODEL argument becomes: a path to a local GGUF file. A path that exists is returned as is; an
// alias or hf:// reference is looked up in the cache and downloaded when missing (progress on stderr). Anything
// else is returned unchanged for the loader to report. Dies with a clear message on download errors.
std::string resolve_model(const std::string& spec);

namespace hub {

struct Alias {
  const char* name;   // "llama3.2:1b"
  const char* repo;   // "bartowski/Llama-3.2-1B-Instruct-GGUF"
  const char* file;   // "Llama-3.2-1B-Instruct-Q4_K_M.gguf"
  const char* about;  // one line for `ondi list --available`
};
const std::vector<Alias>& aliases();

struct ModelRef {
  std::string repo;               // OWNER/NAME
  std::string revision = "main";  // branch, tag or commit
  std::string file;               // path inside the repository
  std::string alias;              // the alias it came from, if any
  std::string display() const;    // hf://OWNER/NAME[@REV]/FILE
};

// "hf://OWNER/NAME[@REV]/FILE" or an alias. false with `err` set when `spec` is neither (or malformed).
bool parse_ref(const std::string& spec, ModelRef& ref, std::string& err);

// $ONDI_CACHE, else $XDG_CACHE_HOME/ondi, else ~/.cache/ondi.
std::string cache_dir();
// <cache>/OWNER/NAME[@REV]/FILE
std::string cache_path(const ModelRef& ref);

// Downloads `ref` to cache_path(ref) unless it is already there. Returns "" or the error message.
std::string download(const ModelRef& ref);

// The per-file lock (<path>.lock, flock) that keeps two processes from downloading or removing the same file at
// once. With `wait`, blocks until it is free (saying so on stderr); without, returns -1 when another process holds
// it. unlock() removes the lock file and closes the fd.
int lock(const std::string& final_path, bool wait);
void unlock(int fd, const std::string& final_path);

}  // namespace hub
}  // namespace ondi_cli
