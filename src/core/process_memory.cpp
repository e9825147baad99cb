#include "core/process_memory.h"

#include <cstdio>
#include <map>
#include <set>
#include <string>

namespace ondi {

uint64_t resident_code_bytes() {
  FILE* f = std::fopen("/proc/self/smaps", "re");
  if (!f) return 0;
  // Header lines: "start-end perms offset dev inode [path]"; then "Key: value kB" lines for that mapping.
  std::map<std::string, uint64_t> rss_kb;  // per path
  std::set<std::string> executable;
  std::string path;
  char line[4096];
  while (std::fgets(line, sizeof line, f)) {
    unsigned long rss = 0;
    if (std::sscanf(line, "Rss: %lu kB", &rss) == 1) {
      if (!path.empty()) rss_kb[path] += rss;
      continue;
    }
    // A mapping's header starts with its lowercase hex address; its "Key: value" lines start with a capital.
    const char c = line[0];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) continue;
    path.clear();
    char perms[8] = {};
    unsigned long inode = 0;
    int path_at = 0;
    if (std::sscanf(line, "%*x-%*x %7s %*x %*x:%*x %lu %n", perms, &inode, &path_at) < 2) continue;
    if (inode == 0 || path_at <= 0) continue;  // anonymous, heap, stack, vdso
    path = line + path_at;
    while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.pop_back();
    if (perms[2] == 'x') executable.insert(path);
  }
  std::fclose(f);
  uint64_t total = 0;
  for (const auto& [p, kb] : rss_kb)
    if (executable.count(p)) total += static_cast<uint64_t>(kb) << 10;
  return total;
}

}  // namespace ondi
