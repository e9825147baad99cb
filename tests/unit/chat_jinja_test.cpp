// The Jinja interpreter on hand-written templates: expected outputs are derived by hand from the Jinja rules
// (and @huggingface/jinja's, where they differ, as noted); errors must name the line and column; hostile
// templates must hit a limit, never crash.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "chat/chat_template.h"
#include "chat/jinja.h"

namespace ondi::jinja {
namespace {

std::string render(const std::string& tmpl, const std::string& ctx_json = "{}", RenderOptions opts = {}) {
  auto t = Template::parse(tmpl);
  if (!t.ok()) return "PARSE ERROR: " + t.status().message();
  auto ctx = chat::json_to_value(ctx_json, "context");
  EXPECT_TRUE(ctx.ok());
  auto r = t->render(*ctx, opts);
  return r.ok() ? *r : "ERROR: " + r.status().message();
}

TEST(Jinja, WhitespaceControlAsTransformers) {
  // trim_blocks drops the newline after a tag, lstrip_blocks the indentation before one; a single trailing
  // newline of the template is dropped.
  EXPECT_EQ(render("{% if true %}\n  x\n  {% endif %}\nY\n"), "  x\nY");
  EXPECT_EQ(render("a  {%- if true -%}  b  {%- endif -%}  c"), "abc");
  EXPECT_EQ(render("a {{- 'b' -}} c {#- note -#} d"), "abcd");
  EXPECT_EQ(render("  {{ 'x' }}"), "  x");  // lstrip_blocks leaves expressions alone
}

TEST(Jinja, LoopsAndConditionals) {
  EXPECT_EQ(render("{% for x in xs %}{{ loop.index }}{{ x }}{% if not loop.last %},{% endif %}{% endfor %}",
                   R"({"xs": ["a", "b", "c"]})"),
            "1a,2b,3c");
  EXPECT_EQ(render("{% for x in xs %}{{ x }}{% else %}empty{% endfor %}", R"({"xs": []})"), "empty");
  EXPECT_EQ(render("{% for x in xs if x > 1 %}{{ loop.length }}{{ x }}{% endfor %}", R"({"xs": [1, 2, 3]})"), "2223");
  EXPECT_EQ(render("{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", R"({"d": {"b": 1, "a": 2}})"),
            "b=1;a=2;");
  EXPECT_EQ(render("{% for x in [1,2,3,4] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}"
                   "{% endif %}{{ x }}{% endfor %}"),
            "13");
  EXPECT_EQ(render("{% if a %}A{% elif b %}B{% else %}C{% endif %}", R"({"b": true})"), "B");
  EXPECT_EQ(render("{{ 'y' if x is defined else 'n' }}{{ 'z' if x }}"), "n");
  EXPECT_EQ(render("{% for m in ms[::-1] %}{{ m }}{% endfor %}{{ ms[1:] }}{{ 'hello'[1:3] }}", R"({"ms": [1,2,3]})"),
            "321[2, 3]el");
}

TEST(Jinja, SetNamespaceMacro) {
  EXPECT_EQ(render("{% set ns = namespace(n=0) %}{% for i in range(4) %}{% set ns.n = ns.n + i %}{% endfor %}"
                   "{{ ns.n }}"),
            "6");
  // A plain set inside a loop does not leak out of it.
  EXPECT_EQ(render("{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{% endfor %}{{ x }}"), "1");
  EXPECT_EQ(render("{% set a, b = [1, 2] %}{{ b }}{{ a }}"), "21");
  EXPECT_EQ(render("{% set t %}in {{ 'block' }}{% endset %}[{{ t }}]"), "[in block]");
  EXPECT_EQ(render("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}"
                   "{{ greet('Ann') }} {{ greet('Bo', punct='?') }}"),
            "Hi Ann! Hi Bo?");
}

TEST(Jinja, FiltersTestsMethods) {
  EXPECT_EQ(render("{{ '  a b  ' | trim }}|{{ 'ab' | upper }}|{{ [1, 2] | length }}|{{ 'x' | default('y') }}"
                   "|{{ missing | default('d') }}|{{ ['a', 'b'] | join(', ') }}|{{ 'hello world' | title }}"),
            "a b|AB|2|x|d|a, b|Hello World");
  EXPECT_EQ(render(R"({{ d | tojson }}|{{ d | tojson(indent=2) }})", R"({"d": {"a": [1, "é"], "b": null}})"),
            "{\"a\": [1, \"é\"], \"b\": null}|{\n  \"a\": [\n    1,\n    \"é\"\n  ],\n  \"b\": null\n}");
  EXPECT_EQ(render(R"({{ 'é' | tojson(ensure_ascii=true) }})"), "\"\\u00e9\"");
  EXPECT_EQ(render("{{ xs | selectattr('ok') | map(attribute='n') | list }}",
                   R"({"xs": [{"n": 1, "ok": true}, {"n": 2, "ok": false}, {"n": 3, "ok": 1}]})"),
            "[1, 3]");
  EXPECT_EQ(render("{{ x is string }}{{ x is mapping }}{{ y is none }}{{ z is defined }}", R"({"x": "s", "y": null})"),
            "truefalsetruefalse");
  EXPECT_EQ(
      render("{{ 'a<b>c'.split('<')[1] }}{{ ' x '.strip() }}{{ '\\nx\\n'.strip('\\n') }}{{ 'abc'.startswith('ab') }}"
             "{{ 'a-b-c'.replace('-', '+', 1) }}"),
      "b>cxxtruea+b-c");
  EXPECT_EQ(render("{{ 7 // 2 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 3.0 }} {{ 1 + 2.5 }} {{ 'a' ~ 1 ~ true }} {{ -7 % 3 }}"),
            "3 3.5 1024 3.0 3.5 a1true -1");  // % keeps the dividend's sign, as in JavaScript
  EXPECT_EQ(render("{{ 'k' in d }}{{ 2 in [1, 2] }}{{ 'x' not in 'abc' }}", R"({"d": {"k": 1}})"), "truetruetrue");
}

TEST(Jinja, StrftimeNowIsInjectable) {
  RenderOptions o;
  std::tm t{};
  t.tm_year = 124;
  t.tm_mon = 6;
  t.tm_mday = 5;
  o.now = t;
  EXPECT_EQ(render("{{ strftime_now('%d %b %Y|%B %m') }}", "{}", o), "05 Jul 2024|July 07");
}

TEST(Jinja, ErrorsNameLineAndColumn) {
  EXPECT_EQ(render("line one\n{{ foo( }}"), "PARSE ERROR: line 2, column 9: expected an expression, found '}}'");
  EXPECT_EQ(render("{% for x in xs %}\n{{ x }}"),
            "PARSE ERROR: line 1, column 1: 'for' block is never closed: expected {% endfor %} or {% else %}");
  EXPECT_EQ(render("ok\n  {{ 'a' | nosuch }}"), "ERROR: line 2, column 12: unknown filter 'nosuch' for a string");
  EXPECT_EQ(render("{{ raise_exception('bad roles') }}"),
            "ERROR: line 1, column 4: the template raised an exception: bad roles");
  EXPECT_EQ(render("{% endif %}"), "PARSE ERROR: line 1, column 4: unknown or misplaced statement 'endif'");
  EXPECT_EQ(render("{{ 'abc }}"), "PARSE ERROR: line 1, column 4: unterminated string literal");
}

TEST(Jinja, HostileTemplatesHitLimits) {
  RenderOptions o;
  o.max_work = 1'000'000;
  EXPECT_NE(render("{% for i in range(100000000) %}x{% endfor %}", "{}", o).find("work budget"), std::string::npos);
  EXPECT_NE(render("{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}{% endfor %}"
                   "{% endfor %}{% endfor %}",
                   "{}", o)
                .find("work budget"),
            std::string::npos);
  EXPECT_NE(render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").find("deeper than"), std::string::npos);
  EXPECT_NE(render("{{ " + std::string(100000, '(') + "1" + std::string(100000, ')') + " }}").find("nested deeper"),
            std::string::npos);
  EXPECT_NE(render("{{ " + std::string(5000, '[') + std::string(5000, ']') + " }}").find("nested deeper"),
            std::string::npos);
  o.max_output = 1 << 16;
  EXPECT_NE(render("{% set ns = namespace(s='xxxxxxxx') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}"
                   "{% endfor %}",
                   "{}", o)
                .find("limit"),
            std::string::npos);
  EXPECT_NE(render("{% set ns = namespace(v=1) %}{% for i in range(1000) %}{% set ns.v = [ns.v] %}{% endfor %}"
                   "{{ ns.v | tojson }}")
                .find("nested deeper"),
            std::string::npos);
  EXPECT_NE(render("{% set ns = namespace() %}{% set ns.me = ns %}").find("cannot hold a namespace"),
            std::string::npos);
  EXPECT_NE(render("{% set ns = namespace() %}{% set ns.me = [{'a': ns}] %}").find("cannot hold a namespace"),
            std::string::npos);
  EXPECT_NE(render("{% set ns = namespace() %}{{ namespace(x=[ns]) }}").find("cannot hold a namespace"),
            std::string::npos);
}

// Random token soup: every template either renders or fails with a message, never crashes or hangs.
TEST(Jinja, RandomTemplatesNeverCrash) {
  const char* pieces[] = {"{{",     "}}",      "{%",     "%}",       "{#",       "#}",
                          "-",      "if ",     "for ",   "in ",      "endfor",   "endif",
                          "set ",   "x",       "ns",     "=",        "(",        ")",
                          "[",      "]",       "{",      "}",        "'s'",      "\"",
                          "1",      "2.5",     ",",      ":",        "|",        "trim",
                          "tojson", "length",  "loop",   ".",        "index",    "+",
                          "*",      "**",      "//",     "not ",     "and ",     "or ",
                          "is ",    "defined", "macro ", "endmacro", "range(9)", "namespace(a=1)",
                          " ",      "\n",      "else",   "elif ",    "messages", "[::-1]",
                          "~",      "==",      "break",  "continue", "é",        "\\"};
  std::mt19937 rng(1234);
  RenderOptions o;
  o.max_work = 200000;
  for (int i = 0; i < 3000; ++i) {
    std::string t;
    const int n = 1 + static_cast<int>(rng() % 40);
    for (int k = 0; k < n; ++k) t += pieces[rng() % (sizeof(pieces) / sizeof(pieces[0]))];
    const std::string r = render(t, R"({"messages": [{"role": "user", "content": "hi"}], "x": [1, "a"]})", o);
    (void)r;
  }
}

TEST(ChatTemplate, ContextAndFallback) {
  chat::ChatRequest req;
  req.messages_json = R"([{"role": "user", "content": "Hi"}])";
  req.extra_json = R"({"enable_thinking": false})";
  auto r = chat::apply_template(chat::chatml_template(), req);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(*r, "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  req.messages_json = "[{\"role\": 1,]";
  r = chat::apply_template(chat::chatml_template(), req);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("messages: invalid JSON at byte"), std::string::npos);
  req.messages_json = std::string(1000, '[') + std::string(1000, ']');
  r = chat::apply_template(chat::chatml_template(), req);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nested deeper"), std::string::npos);
}

}  // namespace
}  // namespace ondi::jinja
