// The oracle: renders every (template, conversation) pair of the battery with @huggingface/jinja, as
// transformers.js's apply_chat_template does (new Template(src).render(context)), into
// OUT_DIR/<template>__<conversation>.txt, or .err when rendering fails. The clock is fixed at
// 2025-03-14 09:30 UTC for strftime_now(), as ondi-chat-render fixes it.
// Usage: node render.mjs TEMPLATES_DIR CONVERSATIONS.json OUT_DIR
import fs from "node:fs";
import path from "node:path";
import { Template } from "@huggingface/jinja";

const RealDate = Date;
const FIXED = RealDate.UTC(2025, 2, 14, 9, 30);
globalThis.Date = class extends RealDate {
  constructor(...a) {
    super(...(a.length ? a : [FIXED]));
  }
  static now() {
    return FIXED;
  }
};

const [dir, convFile, out] = process.argv.slice(2);
const tokens = JSON.parse(fs.readFileSync(path.join(dir, "tokens.json"), "utf8"));
const convs = JSON.parse(fs.readFileSync(convFile, "utf8"));
fs.mkdirSync(out, { recursive: true });
let n = 0;
for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".jinja"))) {
  const name = file.slice(0, -".jinja".length);
  const src = fs.readFileSync(path.join(dir, file), "utf8");
  for (const [cname, c] of Object.entries(convs)) {
    const ctx = { messages: c.messages };
    if ("tools" in c) ctx.tools = c.tools;
    ctx.add_generation_prompt = c.add_generation_prompt ?? true;
    ctx.bos_token = tokens[name].bos_token;
    ctx.eos_token = tokens[name].eos_token;
    Object.assign(ctx, c.extra ?? {});
    const base = path.join(out, `${name}__${cname}`);
    try {
      fs.writeFileSync(base + ".txt", new Template(src).render(ctx));
    } catch (e) {
      fs.writeFileSync(base + ".err", String(e && e.message) + "\n");
    }
    ++n;
  }
}
console.log(`rendered ${n} pairs`);
