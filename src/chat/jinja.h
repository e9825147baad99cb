// A Jinja interpreter for chat templates: the subset that the chat templates of real models use, with the
// semantics of @huggingface/jinja (what transformers.js renders them with). Templates and their inputs are
// untrusted: nesting, recursion, work and output are bounded, and every failure is a Status whose message
// names the template line and column.
//
// Supported: {{ }}, {% if/elif/else %}, {% for %} (tuple targets, `if` filter, else, loop.index/index0/
// revindex/revindex0/first/last/length/previtem/nextitem, break/continue), {% set %} (tuples, ns.attr, block
// set), {% macro %}, {% filter %}, comments, whitespace control, literals (lists, dicts, tuples), slicing,
// tests, filters, string/dict methods, namespace(), range(), raise_exception(), strftime_now().
#pragma once

#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chat/jinja_ast.h"
#include "chat/jinja_value.h"
#include "core/status.h"

namespace ondi::jinja {

inline constexpr uint64_t kLoopIterationWork = 32;

struct RenderOptions {
  size_t max_output = 16u << 20;  // bytes of output and of any string built on the way
  // Evaluation steps (1 each), loop iterations (kLoopIterationWork each: the loop object and scope cost about that
  // many steps) and bytes built (1 per 16). 10M bounds a hostile template to about a second of work.
  uint64_t max_work = 10'000'000;
  int max_eval_depth = 500;    // nested evaluations, macro recursion included (bounds the C++ stack)
  std::optional<std::tm> now;  // what strftime_now() sees; the local time when absent
};

class Template {
 public:
  // Error messages read "line L, column C: what".
  static Result<Template> parse(std::string_view source, const LexOptions& opts = {});
  // context: an object whose keys become the template's variables.
  Result<std::string> render(const Value& context, const RenderOptions& opts = {}) const;

 private:
  std::shared_ptr<const std::vector<NodeP>> program_;
};

}  // namespace ondi::jinja
