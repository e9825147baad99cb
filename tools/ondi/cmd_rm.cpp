// `ondi rm MODEL`: removes a downloaded model (and any partial download of it) from the cache.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common.h"
#include "hub.h"

namespace ondi_cli {
namespace {

int cmd_rm(const std::string& spec) {
  const std::string root = hub::cache_dir();
  std::string path;
  hub::ModelRef ref;
  std::string err;
  if (hub::parse_ref(spec, ref, err)) {
    path = hub::cache_path(ref);
  } else if (spec.rfind(root + "/", 0) == 0 && spec.find("/../") == std::string::npos) {
    path = spec;  // a path `ondi list` printed
  } else {
    die(err + " in the cache (`ondi list` shows what is there)");
  }
  struct stat st {};
  const bool full = ::stat(path.c_str(), &st) == 0, part = ::stat((path + ".part").c_str(), &st) == 0;
  if (!full && !part) die("'" + spec + "' is not in the cache " + root + " (`ondi list` shows what is there)");
  const int fd = hub::lock(path, /*wait=*/false);
  if (fd < 0) die("'" + spec + "' is being downloaded by another ondi process: try again when it is done");
  for (const std::string& p : {path, path + ".part"}) {
    if (::unlink(p.c_str()) == 0) {
      std::printf("removed %s\n", p.c_str());
    } else if (errno != ENOENT) {
      const std::string why = std::strerror(errno);
      hub::unlock(fd, path);
      die("cannot remove '" + p + "': " + why);
    }
  }
  hub::unlock(fd, path);
  // Empty OWNER/REPO directories go too; rmdir fails, harmlessly, on the first one that is not empty.
  for (std::string dir = path.substr(0, path.rfind('/')); dir.size() > root.size() && dir.rfind(root + "/", 0) == 0;
       dir = dir.substr(0, dir.rfind('/'))) {
    if (::rmdir(dir.c_str()) != 0) break;
  }
  return 0;
}

const RegisterCommand kRegister(51, [](CLI::App& app) -> Runner {
  auto model = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("rm", "Remove a downloaded model from the cache");
  cmd->add_option("MODEL", *model, "Alias, hf://OWNER/REPO/FILE.gguf, or a path `ondi list` printed")->required();
  return [cmd, model]() -> int {
    if (!cmd->parsed()) return -1;
    return cmd_rm(*model);
  };
});

}  // namespace
}  // namespace ondi_cli
