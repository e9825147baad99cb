// The `ondi` command-line tool. Each subcommand lives in its own cmd_*.cpp and registers itself.
#include <algorithm>

#include "common.h"

int main(int argc, char** argv) {
  CLI::App app{"ondi: run Llama-family models from GGUF files on this device"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(ondi_version()));
  auto& cmds = ondi_cli::registry();
  std::stable_sort(cmds.begin(), cmds.end(), [](const auto& a, const auto& b) { return a.order < b.order; });
  std::vector<ondi_cli::Runner> runners;
  for (auto& c : cmds) runners.push_back(c.setup(app));
  CLI11_PARSE(app, argc, argv);
  for (auto& r : runners) {
    const int rc = r();
    if (rc >= 0) return rc;
  }
  return 1;
}
