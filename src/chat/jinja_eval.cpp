// Statements and expressions. Semantics follow @huggingface/jinja (see jinja_value.h); one deliberate
// difference: text rendered before a {% break %} or {% continue %} is kept, as Python Jinja keeps it.
#include <cmath>
#include <new>

#include "chat/jinja_interp.h"

namespace ondi::jinja {

Result<Template> Template::parse(std::string_view source, const LexOptions& opts) {
  try {
    auto tokens = tokenize(source, opts);
    Template t;
    t.program_ = std::make_shared<const std::vector<NodeP>>(jinja::parse(tokens));
    return t;
  } catch (const Error& e) {
    return Status(Errc::format,
                  "line " + std::to_string(e.line) + ", column " + std::to_string(e.col) + ": " + e.message);
  } catch (const std::bad_alloc&) {
    return Status(Errc::out_of_memory, "out of memory parsing the template");
  }
}

Result<std::string> Template::render(const Value& context, const RenderOptions& opts) const {
  if (!program_) return Status(Errc::invalid_argument, "render: the template was not parsed");
  try {
    Interpreter in(opts);
    Scope global;
    in.install_globals(global);
    if (context.is_mapping_like())
      for (const auto& kv : context.obj().items()) global.vars[kv.first] = kv.second;
    std::string out;
    if (in.exec(*program_, global, out) != Flow::normal) fail("{% break %} or {% continue %} outside of a loop");
    return out;
  } catch (const Error& e) {
    std::string where = e.line ? "line " + std::to_string(e.line) + ", column " + std::to_string(e.col) + ": " : "";
    return Status(Errc::format, where + e.message);
  } catch (const std::bad_alloc&) {
    return Status(Errc::out_of_memory, "out of memory rendering the template");
  }
}

// ---- statements -----------------------------------------------------------------------------------------

Flow Interpreter::exec(const std::vector<NodeP>& body, Scope& sc, std::string& out) {
  DepthGuard g(*this);
  for (const auto& n : body) {
    const Flow f = exec_one(*n, sc, out);
    if (out.size() > opts_.max_output)
      fail("the output grew past the limit of " + std::to_string(opts_.max_output) + " bytes");
    if (f != Flow::normal) return f;
  }
  return Flow::normal;
}

Flow Interpreter::exec_one(const Node& n, Scope& sc, std::string& out) {
  try {
    charge(1);
    switch (n.kind) {
      case Nk::Text:
        out += n.s;
        return Flow::normal;
      case Nk::If: {
        const bool c = eval(*n.kids[0], sc).truthy();
        return exec(c ? n.body : n.alt, sc, out);
      }
      case Nk::For:
        return exec_for(n, sc, out);
      case Nk::Set: {
        Value v;
        if (n.kids[1]) {
          v = eval(*n.kids[1], sc);
        } else {
          std::string text;
          if (exec(n.body, sc, text) != Flow::normal) fail("{% break %} or {% continue %} inside {% set %}");
          v = str(std::move(text));
        }
        assign(*n.kids[0], v, sc);
        return Flow::normal;
      }
      case Nk::Macro:
        sc.vars[n.s] = define_macro(n);
        return Flow::normal;
      case Nk::Break:
        return Flow::brk;
      case Nk::Continue:
        return Flow::cont;
      case Nk::FilterBlock: {
        std::string text;
        const Flow f = exec(n.body, sc, text);
        const Value v = apply_filter(Value(std::move(text)), *n.kids[0], sc);
        if (!v.is_null() && !v.is_undefined()) out += to_output(v);
        return f;
      }
      default: {
        const Value v = eval(n, sc);
        if (!v.is_null() && !v.is_undefined()) out += to_output(v);
        return Flow::normal;
      }
    }
  } catch (Error& e) {
    if (!e.line) {
      e.line = n.line;
      e.col = n.col;
    }
    throw;
  }
}

void Interpreter::assign(const Node& target, const Value& v, Scope& sc) {
  if (target.kind == Nk::Name) {
    sc.vars[target.s] = v;
  } else if (target.kind == Nk::Tuple) {
    if (!v.is_array()) fail(std::string("cannot unpack a ") + v.type_name() + " in {% set %}");
    if (v.arr().size() != target.kids.size())
      fail(std::string("too ") + (v.arr().size() < target.kids.size() ? "few" : "many") + " values to unpack");
    for (size_t i = 0; i < target.kids.size(); ++i) {
      if (target.kids[i]->kind != Nk::Name) fail("can only unpack into names");
      sc.vars[target.kids[i]->s] = v.arr()[i];
    }
  } else if (target.kind == Nk::Member) {
    const Value obj = eval(*target.kids[0], sc);
    if (!obj.is_namespace())
      fail("cannot assign an attribute of a " + std::string(obj.type_name()) + " (only of a namespace)");
    if (target.kids[1]->kind != Nk::Str) fail("a namespace attribute must be a name");
    // A namespace holding a namespace could form a cycle that no walk over values could bound.
    if (v.holds_namespace()) fail("a namespace cannot hold a namespace");
    if (v.depth() + 1 > kMaxDepth) fail("values nested deeper than " + std::to_string(kMaxDepth) + " levels");
    obj.ns_obj().set(target.kids[1]->s, v);
  } else {
    fail("cannot assign to this expression");
  }
}

Flow Interpreter::exec_for(const Node& n, Scope& sc, std::string& out) {
  Scope loop_scope;
  loop_scope.parent = &sc;
  Value iterable = eval(*n.kids[1], loop_scope);
  std::vector<Value> items;
  if (iterable.is_array()) {
    items = iterable.arr();
  } else if (iterable.is_object()) {
    for (const auto& kv : iterable.obj().items()) items.emplace_back(kv.first);
  } else {
    fail(std::string("cannot loop over a ") + iterable.type_name());
  }
  const Node& target = *n.kids[0];
  auto bind = [&](Scope& s, const Value& item) {
    if (target.kind == Nk::Name) {
      s.vars[target.s] = item;
      return;
    }
    if (!item.is_array()) fail(std::string("cannot unpack a ") + item.type_name() + " into the loop variables");
    if (item.arr().size() != target.kids.size())
      fail(std::string("too ") + (item.arr().size() < target.kids.size() ? "few" : "many") + " values to unpack");
    for (size_t i = 0; i < target.kids.size(); ++i) {
      if (target.kids[i]->kind != Nk::Name) fail("loop variables must be names");
      s.vars[target.kids[i]->s] = item.arr()[i];
    }
  };
  if (n.kids[2]) {  // `for x in xs if cond`: filtered before the loop, so loop.length counts what is kept
    std::vector<Value> kept;
    for (auto& item : items) {
      charge(1);
      Scope s;
      s.parent = &loop_scope;
      bind(s, item);
      if (eval(*n.kids[2], s).truthy()) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  bool any = false;
  const int64_t len = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < len; ++i) {
    charge(kLoopIterationWork);
    Object loop;
    loop.set("index", Value(i + 1));
    loop.set("index0", Value(i));
    loop.set("revindex", Value(len - i));
    loop.set("revindex0", Value(len - i - 1));
    loop.set("first", Value(i == 0));
    loop.set("last", Value(i == len - 1));
    loop.set("length", Value(len));
    loop.set("previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value());
    loop.set("nextitem", i < len - 1 ? items[static_cast<size_t>(i + 1)] : Value());
    loop_scope.vars["loop"] = Value::object(std::move(loop));
    bind(loop_scope, items[static_cast<size_t>(i)]);
    const Flow f = exec(n.body, loop_scope, out);
    if (f == Flow::brk) {
      any = true;
      break;
    }
    any = true;
  }
  if (!any) return exec(n.alt, loop_scope, out);  // a break there belongs to an enclosing loop
  return Flow::normal;
}

Value Interpreter::define_macro(const Node& n) {
  const Node* def = &n;
  return Value::function([def](Args& args, Interpreter& in, Scope& caller) -> Value {
    Scope s;
    s.parent = &caller;
    const auto& params = def->kids;
    std::vector<bool> used_kw(args.kw.size(), false);
    std::vector<const Node*> defaults;
    for (size_t i = 0; i < params.size(); ++i) {
      const std::string& name = params[i]->s;
      const Value* v = i < args.pos.size() ? &args.pos[i] : nullptr;
      for (size_t k = 0; !v && k < args.kw.size(); ++k)
        if (args.kw[k].first == name) {
          v = &args.kw[k].second;
          used_kw[k] = true;
        }
      if (v) {
        s.vars[name] = *v;
      } else {
        s.vars[name] = Value();
        if (params[i]->kind == Nk::Kwarg) defaults.push_back(params[i].get());
      }
    }
    Array varargs;
    for (size_t i = params.size(); i < args.pos.size(); ++i) varargs.push_back(args.pos[i]);
    Object kwargs;
    for (size_t k = 0; k < args.kw.size(); ++k)
      if (!used_kw[k]) kwargs.set(args.kw[k].first, args.kw[k].second);
    s.vars["varargs"] = Value::array(std::move(varargs));
    s.vars["kwargs"] = Value::object(std::move(kwargs));
    for (const Node* d : defaults) s.vars[d->s] = in.eval(*d->kids[0], s);
    std::string out;
    if (in.exec(def->body, s, out) != Flow::normal) fail("{% break %} or {% continue %} outside of a loop");
    return in.str(std::move(out));
  });
}

// ---- expressions ----------------------------------------------------------------------------------------

Value Interpreter::eval(const Node& n, Scope& sc) {
  DepthGuard g(*this);
  try {
    charge(1);
    return eval_inner(n, sc);
  } catch (Error& e) {
    if (!e.line) {
      e.line = n.line;
      e.col = n.col;
    }
    throw;
  }
}

Args Interpreter::eval_args(const Node& n, size_t first, Scope& sc) {
  Args a;
  // Positional arguments (with * unpacking) first, then keywords, as Python evaluates them.
  for (size_t i = first; i < n.kids.size(); ++i) {
    const Node& k = *n.kids[i];
    if (k.kind == Nk::Spread) {
      const Value v = eval(*k.kids[0], sc);
      if (!v.is_array()) fail(std::string("cannot unpack a ") + v.type_name() + " with *");
      for (const auto& x : v.arr()) a.pos.push_back(x);
    } else if (k.kind != Nk::Kwarg && k.kind != Nk::KwSpread) {
      a.pos.push_back(eval(k, sc));
    }
  }
  auto add = [&](const std::string& key, Value v) {
    for (const auto& kv : a.kw)
      if (kv.first == key) fail("got multiple values for keyword argument '" + key + "'");
    a.kw.emplace_back(key, std::move(v));
  };
  for (size_t i = first; i < n.kids.size(); ++i) {
    const Node& k = *n.kids[i];
    if (k.kind == Nk::Kwarg) {
      add(k.s, eval(*k.kids[0], sc));
    } else if (k.kind == Nk::KwSpread) {
      const Value v = eval(*k.kids[0], sc);
      if (!v.is_object()) fail(std::string("argument after ** must be a mapping, not a ") + v.type_name());
      for (const auto& kv : v.obj().items()) add(kv.first, kv.second);
    }
  }
  return a;
}

Value Interpreter::call_function(const Value& fn, Args& args, Scope& sc) {
  if (fn.type() != Type::Function) fail(std::string("cannot call a ") + fn.type_name() + " (not a function)");
  return fn.fn()(args, *this, sc);
}

std::vector<size_t> slice_indices(size_t n, const Value& start, const Value& stop, const Value& step) {
  for (const Value* v : {&start, &stop, &step})
    if (!v->is_undefined() && !v->is_null() && !v->is_int()) fail("slice bounds must be integers");
  const int64_t len = static_cast<int64_t>(n);
  const int64_t st = step.is_int() ? step.as_int() : 1;
  if (st == 0) fail("slice step cannot be zero");
  int64_t a, b;
  if (st > 0) {
    a = start.is_int() ? start.as_int() : 0;
    b = stop.is_int() ? stop.as_int() : len;
    a = a < 0 ? std::max<int64_t>(len + a, 0) : std::min(a, len);
    b = b < 0 ? std::max<int64_t>(len + b, 0) : std::min(b, len);
  } else {
    a = start.is_int() ? start.as_int() : len - 1;
    b = stop.is_int() ? stop.as_int() : -1;
    a = a < 0 ? std::max<int64_t>(len + a, -1) : std::min(a, len - 1);
    b = b < -1 ? std::max<int64_t>(len + b, -1) : std::min(b, len - 1);
  }
  std::vector<size_t> idx;
  for (int64_t i = a; st > 0 ? i < b : i > b; i += st) idx.push_back(static_cast<size_t>(i));
  return idx;
}

Value Interpreter::slice(const Node& n, Scope& sc) {
  const Value obj = eval(*n.kids[0], sc);
  Value parts[3];
  for (int i = 0; i < 3; ++i)
    if (n.kids[static_cast<size_t>(i) + 1]) parts[i] = eval(*n.kids[static_cast<size_t>(i) + 1], sc);
  if (obj.is_array()) {
    const auto idx = slice_indices(obj.arr().size(), parts[0], parts[1], parts[2]);
    charge(idx.size());
    Array out;
    out.reserve(idx.size());
    for (size_t i : idx) out.push_back(obj.arr()[i]);
    return Value::array(std::move(out));
  }
  if (obj.is_string()) {
    const auto chars = utf8_chars(obj.str());
    std::string out;
    for (size_t i : slice_indices(chars.size(), parts[0], parts[1], parts[2])) out += chars[i];
    return str(std::move(out));
  }
  fail(std::string("cannot slice a ") + obj.type_name());
}

Value Interpreter::eval_inner(const Node& n, Scope& sc) {
  switch (n.kind) {
    case Nk::Str:
      return Value(n.s);
    case Nk::Int:
      return Value(n.i);
    case Nk::Float:
      return Value(n.f);
    case Nk::Name:
      return sc.lookup(n.s);
    case Nk::List:
    case Nk::Tuple: {
      Array a;
      for (const auto& k : n.kids) a.push_back(eval(*k, sc));
      return Value::array(std::move(a));
    }
    case Nk::Dict: {
      Object o;
      for (size_t i = 0; i + 1 < n.kids.size(); i += 2) {
        const Value k = eval(*n.kids[i], sc);
        if (!k.is_string()) fail(std::string("dict keys must be strings, not ") + k.type_name());
        o.set(k.str(), eval(*n.kids[i + 1], sc));
      }
      return Value::object(std::move(o));
    }
    case Nk::Member: {
      const Value obj = eval(*n.kids[0], sc);
      return member(obj, eval(*n.kids[1], sc));
    }
    case Nk::Slice:
      return slice(n, sc);
    case Nk::Call: {
      Args args = eval_args(n, 1, sc);
      const Value fn = eval(*n.kids[0], sc);
      return call_function(fn, args, sc);
    }
    case Nk::Filter:
      return apply_filter(eval(*n.kids[0], sc), n, sc);
    case Nk::Test: {
      const bool r = apply_test(n.s, eval(*n.kids[0], sc));
      return Value(n.flag ? !r : r);
    }
    case Nk::Unary: {
      const Value v = eval(*n.kids[0], sc);
      if (n.s == "not") return Value(!v.truthy());
      const bool neg = n.s == "-";
      if (v.type() == Type::Float) return Value(neg ? -v.as_number() : v.as_number());
      if (v.is_int() || v.type() == Type::Bool) {
        const int64_t x = v.as_int();
        if (neg && x == INT64_MIN) return Value(-static_cast<double>(x));
        return Value(neg ? -x : x);
      }
      fail("unary " + n.s + " needs a number, not a " + v.type_name());
    }
    case Nk::Binary:
      return binary(n, sc);
    case Nk::Ternary:
      return eval(*n.kids[0], sc).truthy() ? eval(*n.kids[1], sc) : eval(*n.kids[2], sc);
    case Nk::Select:
      return eval(*n.kids[1], sc).truthy() ? eval(*n.kids[0], sc) : Value();
    case Nk::Kwarg:
    case Nk::Spread:
    case Nk::KwSpread:
      fail("keyword arguments and unpacking are only allowed in calls");
    default:
      fail("statement used as an expression");
  }
}

namespace {
Value int_or_float(int64_t a, int64_t b, char op) {
  int64_t r = 0;
  bool overflow = false;
  if (op == '+') overflow = __builtin_add_overflow(a, b, &r);
  if (op == '-') overflow = __builtin_sub_overflow(a, b, &r);
  if (op == '*') overflow = __builtin_mul_overflow(a, b, &r);
  if (!overflow) return Value(r);
  const double x = static_cast<double>(a), y = static_cast<double>(b);
  return Value(op == '+' ? x + y : op == '-' ? x - y : x * y);
}
}  // namespace

Value Interpreter::binary(const Node& n, Scope& sc) {
  const std::string& op = n.s;
  const Value l = eval(*n.kids[0], sc);
  if (op == "and") return l.truthy() ? eval(*n.kids[1], sc) : l;
  if (op == "or") return l.truthy() ? l : eval(*n.kids[1], sc);
  const Value r = eval(*n.kids[1], sc);
  if (op == "==") return Value(loose_equal(l, r));
  if (op == "!=") return Value(!loose_equal(l, r));
  const bool in_op = op == "in" || op == "not in";
  if (l.is_undefined() || r.is_undefined()) {
    if (r.is_undefined() && in_op) return Value(op == "not in");
    fail("cannot apply '" + op + "' to an undefined value");
  }
  if (l.is_null() || r.is_null()) fail("cannot apply '" + op + "' to none");
  if (op == "~") return str(to_js_string(l) + to_js_string(r));
  auto numeric_like = [](const Value& v) { return v.is_number() || v.type() == Type::Bool; };
  if (op == "**" && numeric_like(l) && numeric_like(r)) {
    const double a = l.as_number(), b = r.as_number();
    if (a == 0 && b < 0) fail("0 cannot be raised to a negative power");
    const double res = std::pow(a, b);
    if (!std::isfinite(res)) fail("the power is not a finite real number");
    const bool is_float = l.type() == Type::Float || r.type() == Type::Float || b < 0;
    if (!is_float && std::fabs(res) < 9.2e18) return Value(static_cast<int64_t>(res));
    return Value(res);
  }
  if (l.is_number() && r.is_number()) {
    const bool both_int = l.is_int() && r.is_int();
    const double a = l.as_number(), b = r.as_number();
    if (op == "+" || op == "-" || op == "*") {
      if (both_int) return int_or_float(l.as_int(), r.as_int(), op[0]);
      return Value(op == "+" ? a + b : op == "-" ? a - b : a * b);
    }
    if (op == "/") return Value(a / b);
    if (op == "//" || op == "%") {
      if (both_int) {
        if (r.as_int() == 0) fail("integer division or modulo by zero");
        if (l.as_int() == INT64_MIN && r.as_int() == -1) return Value(op == "%" ? 0.0 : -a);
        if (op == "%") return Value(l.as_int() % r.as_int());  // JavaScript's remainder keeps the dividend's sign
        return Value(static_cast<int64_t>(std::floor(a / b)));
      }
      return Value(op == "%" ? std::fmod(a, b) : std::floor(a / b));
    }
    if (op == "<") return Value(a < b);
    if (op == ">") return Value(a > b);
    if (op == "<=") return Value(a <= b);
    if (op == ">=") return Value(a >= b);
  } else if (l.is_array() && r.is_array()) {
    if (op == "+") {
      charge(l.arr().size() + r.arr().size());
      Array a = l.arr();
      a.insert(a.end(), r.arr().begin(), r.arr().end());
      return Value::array(std::move(a));
    }
  } else if (r.is_array()) {
    if (in_op) {
      charge(r.arr().size());
      bool found = false;
      for (const auto& x : r.arr())
        if (strict_equal(x, l)) {
          found = true;
          break;
        }
      return Value(op == "in" ? found : !found);
    }
  }
  if ((l.is_string() || r.is_string()) && op == "+") return str(to_js_string(l) + to_js_string(r));
  if (l.is_string() && r.is_string() && in_op) {
    const bool found = r.str().find(l.str()) != std::string::npos;
    return Value(op == "in" ? found : !found);
  }
  if (l.is_string() && r.is_object() && in_op) {
    const bool found = r.obj().find(l.str()) != nullptr;
    return Value(op == "in" ? found : !found);
  }
  fail("unsupported operator '" + op + "' between a " + l.type_name() + " and a " + r.type_name());
}

}  // namespace ondi::jinja
