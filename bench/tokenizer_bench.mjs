// Encode throughput of Hugging Face's JS tokenizer, one thread: node tokenizer_bench.mjs OUT_DIR MODEL...
// Writes OUT_DIR/english.txt and OUT_DIR/mixed.txt (~1 MB each, from tests/tokenizer/corpus) and prints, per model
// and file, the median MB/s of 7 runs after one warm-up run (its BPE cache is warm too).
import fs from "node:fs";
import path from "node:path";
import { load } from "./oracle.mjs";

const [outDir, corpusDir, ...models] = process.argv.slice(2);
fs.mkdirSync(outDir, { recursive: true });
const files = fs.readdirSync(corpusDir).map((f) => path.join(corpusDir, f));
const lines = [];
for (const f of files) {
  try {
    lines.push(...new TextDecoder("utf-8", { fatal: true }).decode(fs.readFileSync(f)).split("\n"));
  } catch {}
}
const english = lines.filter((l) => /^[\x00-\x7f]*$/.test(l) && l.length > 0);
function build(pool) {
  let seed = 777;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  let out = "";
  while (Buffer.byteLength(out) < 1 << 20) out += pool[Math.floor(rnd() * pool.length)] + "\n";
  return out;
}
const texts = { english: build(english), mixed: build(lines) };
for (const [name, t] of Object.entries(texts)) fs.writeFileSync(path.join(outDir, `${name}.txt`), t);
for (const m of models) {
  const { tok } = load(m);
  for (const [name, t] of Object.entries(texts)) {
    const bytes = Buffer.byteLength(t);
    const mbps = [];
    let n = 0;
    for (let run = 0; run < 8; ++run) {
      const t0 = process.hrtime.bigint();
      n = tok.encode(t, { add_special_tokens: false }).ids.length;
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      if (run > 0) mbps.push(bytes / 1e6 / s);
    }
    mbps.sort((a, b) => a - b);
    console.log(`hf ${m} ${name}: ${mbps[mbps.length >> 1].toFixed(2)} MB/s (${bytes} bytes, ${n} tokens)`);
  }
}
