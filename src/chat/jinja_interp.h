// The tree-walking evaluator (internal to src/chat). jinja_eval.cpp walks statements and expressions,
// jinja_builtins.cpp holds the filters, tests, methods and global functions.
#pragma once

#include <string>
#include <unordered_map>

#include "chat/jinja.h"

namespace ondi::jinja {

struct Scope {
  Scope* parent = nullptr;
  std::unordered_map<std::string, Value> vars;
  Value lookup(const std::string& name) const {
    for (const Scope* s = this; s; s = s->parent) {
      auto it = s->vars.find(name);
      if (it != s->vars.end()) return it->second;
    }
    return Value();
  }
};

enum class Flow { normal, brk, cont };

class Interpreter {
 public:
  explicit Interpreter(const RenderOptions& o) : opts_(o) {}

  Flow exec(const std::vector<NodeP>& body, Scope& sc, std::string& out);
  Value eval(const Node& n, Scope& sc);

  // Every loop iteration, evaluation and byte built is paid for, so no template runs unbounded.
  void charge(uint64_t units) {
    work_ += units;
    if (work_ > opts_.max_work)
      fail("the template exceeded its work budget of " + std::to_string(opts_.max_work) + " steps");
  }
  // A string result, checked against the output limit and paid for.
  Value str(std::string s) {
    if (s.size() > opts_.max_output)
      fail("a string grew past the limit of " + std::to_string(opts_.max_output) + " bytes");
    charge(s.size() / 16);
    return Value(std::move(s));
  }
  Value call_function(const Value& fn, Args& args, Scope& sc);
  const RenderOptions& options() const { return opts_; }

  // jinja_builtins.cpp
  Value apply_filter(const Value& operand, const Node& filter, Scope& sc);
  bool apply_test(const std::string& name, const Value& operand);
  Value member(const Value& object, const Value& property);
  void install_globals(Scope& global);

  Args eval_args(const Node& n, size_t first, Scope& sc);

 private:
  Flow exec_one(const Node& n, Scope& sc, std::string& out);
  Value eval_inner(const Node& n, Scope& sc);
  Value binary(const Node& n, Scope& sc);
  Value slice(const Node& n, Scope& sc);
  Flow exec_for(const Node& n, Scope& sc, std::string& out);
  void assign(const Node& target, const Value& v, Scope& sc);
  Value define_macro(const Node& n);

  struct DepthGuard {
    Interpreter& in;
    explicit DepthGuard(Interpreter& i) : in(i) {
      if (++in.depth_ > in.opts_.max_eval_depth)
        fail("the template nests or recurses deeper than " + std::to_string(in.opts_.max_eval_depth) + " levels");
    }
    ~DepthGuard() { --in.depth_; }
  };

  const RenderOptions& opts_;
  uint64_t work_ = 0;
  int depth_ = 0;
};

// Python-style slice of n elements: the indices taken, in order.
std::vector<size_t> slice_indices(size_t n, const Value& start, const Value& stop, const Value& step);

}  // namespace ondi::jinja
