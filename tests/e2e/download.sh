#!/usr/bin/env bash
# `ondi` getting models from the Hugging Face Hub (tools/ondi/hub*.cpp), against a local stand-in for the hub on
# 127.0.0.1 (a random free port): the resolve endpoint answers like huggingface.co does for LFS files (302 to a
# CDN URL with X-Linked-Etag = the SHA-256 and X-Linked-Size), the CDN honours Range, the tree API lists lfs.oid.
# The server can be told to cut the connection halfway, report a wrong checksum, ignore Range, drip slowly, omit
# the checksum headers, or answer 404; it logs every request (method, path, Range, Authorization).
# Checks: an interrupted transfer resumes with a Range request and ends byte-identical to the original; a bad
# checksum, a corrupt partial file and a 404 are clear errors that leave no file in the cache; no server at all
# gives the no-network message; two processes downloading the same file fetch it once; HF_TOKEN is sent; an alias
# maps to its repository and file; then run/list/rm work from the cache with the server gone.
set -euo pipefail
ondi="$ONDI_BIN/ondi"
py=/usr/bin/python3
tmp="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$tmp"/err "$tmp"/server.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }; done
  exit 1
}

# ---- a model (generated now) and its SHA-256, computed by Python's hashlib, not by ondi
"$ONDI_BIN/ondi-gen" --preset tiny-llama --tokenizer "$ONDI_SRC/tests/data/tiny-bpe-tokenizer.json" \
  -o "$tmp/model.gguf" >/dev/null
sha="$($py -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$tmp/model.gguf")"
size="$(stat -c %s "$tmp/model.gguf")"

cat >"$tmp/hub.py" <<'PY'
import http.server, json, os, socket, sys, time
model, state = sys.argv[1], sys.argv[2]
data = open(model, 'rb').read()
import hashlib
sha = hashlib.sha256(data).hexdigest()

def mode():
    try:
        return open(os.path.join(state, 'mode')).read().strip()
    except OSError:
        return 'ok'

class Hub(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def note(self):
        with open(os.path.join(state, 'server.log'), 'a') as f:
            f.write('%s %s range=%s auth=%s\n' % (self.command, self.path, self.headers.get('Range', '-'),
                                                  self.headers.get('Authorization', '-')))

    def reply(self, code, headers, body=b''):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        self.note()
        m, parts = mode(), self.path.split('/')
        # /OWNER/REPO/resolve/REV/FILE...
        if len(parts) >= 6 and parts[3] == 'resolve':
            if parts[-1] == 'missing.gguf':
                return self.reply(404, [('X-Error-Code', 'EntryNotFound'), ('Content-Type', 'application/json')],
                                  b'{"error":"Entry not found"}')
            h = [('Location', 'http://127.0.0.1:%d/cdn/%s' % (self.server.server_port, sha)),
                 ('X-Linked-Size', str(len(data))), ('X-Repo-Commit', 'c' * 40), ('ETag', '"%s"' % ('a' * 40))]
            if m == 'badsum':
                h.append(('X-Linked-Etag', '"%s"' % ('0' * 64)))
            elif m != 'tree':
                h.append(('X-Linked-Etag', '"%s"' % sha))
            return self.reply(302, h)
        # /api/models/OWNER/REPO/tree/REV
        if len(parts) >= 7 and parts[1:3] == ['api', 'models'] and parts[5] == 'tree':
            entries = [{'type': 'file', 'path': name, 'size': 134, 'oid': 'b' * 40,
                        'lfs': {'oid': sha, 'size': len(data), 'pointerSize': 134}}
                       for name in ('tree.gguf', 'other.gguf')]
            return self.reply(200, [('Content-Type', 'application/json')], json.dumps(entries).encode())
        if len(parts) == 3 and parts[1] == 'cdn':
            rng = self.headers.get('Range')
            if rng and m != 'norange':
                start = int(rng.split('=')[1].split('-')[0])
                return self.reply(206, [('Content-Range', 'bytes %d-%d/%d' % (start, len(data) - 1, len(data)))],
                                  data[start:])
            self.send_response(200)
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            if m == 'cut':  # half the body, then the connection drops
                self.wfile.write(data[:len(data) // 2])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            step = len(data) // 10 + 1
            for i in range(0, len(data), step):
                self.wfile.write(data[i:i + step])
                self.wfile.flush()
                if m == 'slow':
                    time.sleep(0.2)
            return
        self.reply(404, [], b'not found')

srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Hub)
with open(os.path.join(state, 'port.tmp'), 'w') as f:
    f.write(str(srv.server_port))
os.rename(os.path.join(state, 'port.tmp'), os.path.join(state, 'port'))
srv.serve_forever()
PY
$py "$tmp/hub.py" "$tmp/model.gguf" "$tmp" &
server_pid=$!
for _ in $(seq 100); do
  [ -f "$tmp/port" ] && break
  sleep 0.1
done
[ -f "$tmp/port" ] || fail "the test server did not start"
port="$(cat "$tmp/port")"
export ONDI_CACHE="$tmp/cache" HF_ENDPOINT="http://127.0.0.1:$port"
unset HF_TOKEN
export no_proxy=127.0.0.1 NO_PROXY=127.0.0.1  # libcurl honours proxy variables; the test server is local
repo=test-owner/tiny-GGUF
cached="$ONDI_CACHE/$repo/tiny.gguf"
setmode() { echo "$1" >"$tmp/mode"; }
cache_files() { find "$ONDI_CACHE" -type f 2>/dev/null | sort; }

# ---- 404: names the repository and the file; nothing left behind
setmode ok
if "$ondi" run "hf://$repo/missing.gguf" "hi" -n 4 2>"$tmp/err"; then fail "404: ondi succeeded"; fi
grep -q "file 'missing.gguf' not found in repository '$repo'" "$tmp/err" || fail "404: unclear error"
grep -q "HTTP 404" "$tmp/err" || fail "404: no status in the error"
[ -z "$(cache_files)" ] || fail "404: files left in the cache: $(cache_files)"
echo "404: clear error naming the repository and file, cache empty"

# ---- wrong checksum: refused, and the downloaded bytes deleted
setmode badsum
if "$ondi" run "hf://$repo/tiny.gguf" "hi" -n 4 2>"$tmp/err"; then fail "bad checksum: ondi succeeded"; fi
grep -q "checksum mismatch for hf://$repo/tiny.gguf" "$tmp/err" || fail "bad checksum: unclear error"
grep -q "$sha" "$tmp/err" || fail "bad checksum: the error does not give the downloaded file's SHA-256"
[ -z "$(cache_files)" ] || fail "bad checksum: files left in the cache: $(cache_files)"
echo "bad checksum: refused, nothing left in the cache"

# ---- interrupted halfway, then resumed with a Range request (and the token sent to the hub)
setmode cut
if "$ondi" run "hf://$repo/tiny.gguf" "hi" -n 4 2>"$tmp/err"; then fail "cut: ondi succeeded"; fi
grep -q "interrupted" "$tmp/err" || fail "cut: no 'interrupted' in the error"
grep -q "run the same command again to resume" "$tmp/err" || fail "cut: the error does not say how to resume"
[ -f "$cached.part" ] || fail "cut: no partial file kept"
[ ! -e "$cached" ] || fail "cut: an incomplete file was put in place"
part="$(stat -c %s "$cached.part")"
((part > 0 && part < size)) || fail "cut: partial file of $part bytes (model: $size)"
setmode ok
: >"$tmp/server.log"
HF_TOKEN=secret-token "$ondi" run "hf://$repo/tiny.gguf" "hi" -n 4 --seed 3 >"$tmp/out1" 2>"$tmp/err" ||
  fail "resume: ondi failed"
grep -q "^GET /cdn/$sha range=bytes=$part- " "$tmp/server.log" || fail "resume: no 'Range: bytes=$part-' request"
grep -q "^HEAD /$repo/resolve/main/tiny.gguf range=- auth=Bearer secret-token" "$tmp/server.log" ||
  fail "resume: HF_TOKEN not sent as a bearer token"
grep -q "resuming" "$tmp/err" || fail "resume: stderr does not say it resumed"
cmp -s "$cached" "$tmp/model.gguf" || fail "resume: the cached file differs from the original"
[ ! -e "$cached.part" ] && [ ! -e "$cached.lock" ] || fail "resume: .part or .lock left behind"
echo "interrupted at $part of $size bytes; resumed with Range: bytes=$part-; byte-identical"

# ---- a corrupt partial file: the hash covers the resumed prefix too, so it is caught
mkdir -p "$ONDI_CACHE/$repo"
head -c 1000 /dev/urandom >"$ONDI_CACHE/$repo/corrupt.gguf.part"
if "$ondi" info "hf://$repo/corrupt.gguf" >/dev/null 2>"$tmp/err"; then fail "corrupt part: ondi succeeded"; fi
grep -q "checksum mismatch" "$tmp/err" || fail "corrupt part: no checksum mismatch"
[ ! -e "$ONDI_CACHE/$repo/corrupt.gguf.part" ] || fail "corrupt part: not deleted"
echo "corrupt partial file: caught by the checksum and deleted"

# ---- a server that ignores Range: starts over, still correct
head -c 1000 "$tmp/model.gguf" >"$ONDI_CACHE/$repo/norange.gguf.part"
setmode norange
"$ondi" info "hf://$repo/norange.gguf" >/dev/null 2>"$tmp/err" || fail "norange: ondi failed"
grep -q "ignored the resume request" "$tmp/err" || fail "norange: restart not reported"
cmp -s "$ONDI_CACHE/$repo/norange.gguf" "$tmp/model.gguf" || fail "norange: file differs"
echo "server ignoring Range: restarted from zero, byte-identical"

# ---- no checksum headers: the SHA-256 comes from the tree API
setmode tree
: >"$tmp/server.log"
"$ondi" tokenize "hf://$repo/tree.gguf" -p "hi" >/dev/null 2>"$tmp/err" || fail "tree: ondi failed"
grep -q "^GET /api/models/$repo/tree/main " "$tmp/server.log" || fail "tree: the tree API was not asked"
cmp -s "$ONDI_CACHE/$repo/tree.gguf" "$tmp/model.gguf" || fail "tree: file differs"
echo "no X-Linked-Etag: SHA-256 taken from the tree API's lfs.oid"

# ---- two processes, one file: fetched once, both succeed
setmode slow
: >"$tmp/server.log"
"$ondi" info "hf://$repo/twice.gguf" >/dev/null 2>"$tmp/err.a" &
pa=$!
"$ondi" info "hf://$repo/twice.gguf" >/dev/null 2>"$tmp/err.b" &
pb=$!
wait $pa || fail "concurrent: first process failed: $(cat "$tmp/err.a")"
wait $pb || fail "concurrent: second process failed: $(cat "$tmp/err.b")"
gets="$(grep -c "^GET /cdn/" "$tmp/server.log" || true)"
[ "$gets" = 1 ] || fail "concurrent: $gets downloads of the same file (expected 1)"
cat "$tmp/err.a" "$tmp/err.b" | grep -q "waiting for another ondi process" || fail "concurrent: no waiting message"
echo "two processes, one download (the other waited on the lock)"

# ---- an alias maps to its repository and file (served here by the stand-in hub)
setmode ok
"$ondi" info qwen3:0.6b >/dev/null 2>"$tmp/err" || fail "alias: ondi failed"
cmp -s "$ONDI_CACHE/unsloth/Qwen3-0.6B-GGUF/Qwen3-0.6B-Q4_K_M.gguf" "$tmp/model.gguf" ||
  fail "alias: qwen3:0.6b did not land at unsloth/Qwen3-0.6B-GGUF/Qwen3-0.6B-Q4_K_M.gguf"
echo "alias qwen3:0.6b -> hf://unsloth/Qwen3-0.6B-GGUF/Qwen3-0.6B-Q4_K_M.gguf"

# ---- no server: the no-network message
kill "$server_pid"
wait "$server_pid" 2>/dev/null || true
server_pid=""
if "$ondi" run "hf://$repo/other.gguf" "hi" -n 4 2>"$tmp/err"; then fail "offline: ondi succeeded"; fi
grep -q "cannot reach 127.0.0.1:$port" "$tmp/err" || fail "offline: no 'cannot reach' message"
grep -q "pass the path of a local .gguf file" "$tmp/err" || fail "offline: no hint about local files"
echo "no server: '$(cat "$tmp/err")'"

# ---- from the cache, without the server: same text as the local file under the same seed
"$ondi" run "hf://$repo/tiny.gguf" "hi" -n 4 --seed 3 >"$tmp/out2" 2>"$tmp/err" || fail "cached run failed"
"$ondi" run "$tmp/model.gguf" "hi" -n 4 --seed 3 >"$tmp/out3" 2>"$tmp/err" || fail "local run failed"
cmp -s "$tmp/out2" "$tmp/out3" && cmp -s "$tmp/out1" "$tmp/out3" || fail "cached and local runs differ"
echo "run from the cache with no server: same output as the local file"

# ---- list and rm
"$ondi" list >"$tmp/list" 2>"$tmp/err" || fail "list failed"
grep -q "^hf://$repo/tiny.gguf .*$cached\$" "$tmp/list" || fail "list: tiny.gguf missing: $(cat "$tmp/list")"
grep -q "^hf://unsloth/Qwen3-0.6B-GGUF/Qwen3-0.6B-Q4_K_M.gguf *qwen3:0.6b " "$tmp/list" || fail "list: no alias"
"$ondi" rm "hf://$repo/tiny.gguf" >"$tmp/out" 2>"$tmp/err" || fail "rm failed"
[ ! -e "$cached" ] || fail "rm: file still there"
"$ondi" list >"$tmp/list"
grep -q "tiny.gguf" "$tmp/list" && fail "list: tiny.gguf still listed after rm"
"$ondi" rm qwen3:0.6b >/dev/null || fail "rm by alias failed"
[ ! -d "$ONDI_CACHE/unsloth" ] || fail "rm: empty directories left"
if "$ondi" rm "hf://$repo/tiny.gguf" 2>"$tmp/err"; then fail "rm of a missing model succeeded"; fi
grep -q "not in the cache" "$tmp/err" || fail "rm: unclear error for a missing model"
echo "list shows models (with aliases) and paths; rm removes them and their empty directories"
echo "download: all checks passed"
