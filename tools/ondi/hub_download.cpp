// Downloads one file from the Hugging Face Hub (or a mirror at $HF_ENDPOINT) into the cache: resumable, verified
// against the SHA-256 the hub reports, renamed into place only once it matches.
//
// The hub's protocol, as its own clients (huggingface_hub, huggingface.js) use it:
//  - HEAD {endpoint}/{repo}/resolve/{revision}/{file}, redirects not followed: LFS (and Xet-backed) files answer
//    302 to a CDN with `X-Linked-Etag: "<sha256>"` and `X-Linked-Size: <bytes>`; files served directly carry the
//    same in `ETag` / `Content-Length`. Relative redirects (a renamed repository) are followed. 404s carry
//    `X-Error-Code: RepoNotFound | EntryNotFound | RevisionNotFound`; gated and private repositories answer 401/403.
//  - When no header holds a SHA-256 (a proxy that strips them), GET /api/models/{repo}/tree/{revision}[/{dir}]
//    lists the directory as JSON, each LFS entry with `lfs.oid` (its SHA-256) and `lfs.size`.
//  - GET of the resolve URL follows the redirect to the CDN, which honours `Range: bytes=N-` with 206 and
//    `Content-Range: bytes N-LAST/TOTAL`.
#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "common.h"
#include "hub.h"

namespace ondi_cli::hub {
namespace {

constexpr long kConnectTimeoutS = 20;
constexpr long kLowSpeedBytes = 1024;  // a transfer slower than this for kLowSpeedTimeS is treated as stalled
constexpr long kLowSpeedTimeS = 60;
constexpr long kMetadataTimeoutS = 60;

std::string env_or(const char* k, const std::string& fallback) {
  const char* v = std::getenv(k);
  return v && *v ? v : fallback;
}

std::string endpoint() {
  std::string e = env_or("HF_ENDPOINT", "https://huggingface.co");
  while (!e.empty() && e.back() == '/') e.pop_back();
  return e;
}

// "https://huggingface.co/x" -> "huggingface.co", for messages.
std::string host_of(const std::string& url) {
  size_t b = url.find("://");
  b = b == std::string::npos ? 0 : b + 3;
  return url.substr(b, url.find('/', b) - b);
}

std::string origin_of(const std::string& url) {
  const size_t b = url.find("://");
  return url.substr(0, url.find('/', b == std::string::npos ? 0 : b + 3));
}

std::string url_escape(const std::string& s, bool keep_slashes) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slashes && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string resolve_url(const ModelRef& ref) {
  return endpoint() + "/" + ref.repo + "/resolve/" + url_escape(ref.revision, false) + "/" + url_escape(ref.file, true);
}

// `"abc"` / `W/"abc"` -> abc; then whether it is a SHA-256 in hex.
std::string normalize_etag(std::string e) {
  if (e.rfind("W/", 0) == 0) e = e.substr(2);
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') e = e.substr(1, e.size() - 2);
  return e;
}
bool is_sha256(const std::string& s) {
  if (s.size() != 64) return false;
  for (unsigned char c : s)
    if (!std::isxdigit(c)) return false;
  return true;
}
std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool parse_u64(const std::string& s, uint64_t& v) {
  if (s.empty() || s.size() > 19) return false;
  v = 0;
  for (unsigned char c : s) {
    if (!std::isdigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  return true;
}

struct Curl {
  CURL* h = nullptr;
  curl_slist* headers = nullptr;
  char err[CURL_ERROR_SIZE] = {};
  Curl() {
    static const bool inited = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    if (!inited || !(h = curl_easy_init())) die("cannot initialize libcurl");
  }
  ~Curl() {
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
  }
  Curl(const Curl&) = delete;
  Curl& operator=(const Curl&) = delete;
};

// Settings every request shares: identification, the token, timeouts, errors in `err`.
void common_setup(Curl& c, const std::string& url) {
  curl_easy_setopt(c.h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c.h, CURLOPT_ERRORBUFFER, c.err);
  curl_easy_setopt(c.h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c.h, CURLOPT_USERAGENT, (std::string("ondi/") + ondi_version()).c_str());
  curl_easy_setopt(c.h, CURLOPT_CONNECTTIMEOUT, kConnectTimeoutS);
  curl_easy_setopt(c.h, CURLOPT_LOW_SPEED_LIMIT, kLowSpeedBytes);
  curl_easy_setopt(c.h, CURLOPT_LOW_SPEED_TIME, kLowSpeedTimeS);
  curl_easy_setopt(c.h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c.h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  // libcurl sends a custom Authorization header to the original host only, never to the CDN it is redirected
  // to (whose signed URLs reject it).
  const std::string token = env_or("HF_TOKEN", "");
  if (!token.empty()) c.headers = curl_slist_append(c.headers, ("Authorization: Bearer " + token).c_str());
  c.headers = curl_slist_append(c.headers, "Accept-Encoding: identity");
  curl_easy_setopt(c.h, CURLOPT_HTTPHEADER, c.headers);
}

// The headers of the last response only (a followed redirect starts a new set), names lowercased.
struct Headers {
  std::map<std::string, std::string> h;
  std::string get(const std::string& k) const {
    auto it = h.find(k);
    return it == h.end() ? "" : it->second;
  }
};
size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* hs = static_cast<Headers*>(user);
  std::string line(data, size * n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (line.rfind("HTTP/", 0) == 0) {
    hs->h.clear();
  } else if (const size_t colon = line.find(':'); colon != std::string::npos) {
    size_t v = colon + 1;
    while (v < line.size() && (line[v] == ' ' || line[v] == '\t')) ++v;
    hs->h[lower(line.substr(0, colon))] = line.substr(v);
  }
  return size * n;
}

size_t on_body_to_string(char* data, size_t size, size_t n, void* user) {
  auto* s = static_cast<std::string*>(user);
  if (s->size() + size * n > (8u << 20)) return 0;  // metadata, never this large
  s->append(data, size * n);
  return size * n;
}

std::string offline_message(const std::string& detail) {
  return "cannot reach " + host_of(endpoint()) + " (" + detail +
         "): to use a model without network, pass the path of a local .gguf file";
}

// The message for a failed HEAD/GET of `ref`, from the status and the hub's X-Error-Code.
std::string http_error(const ModelRef& ref, long status, const Headers& hs) {
  const std::string code = hs.get("x-error-code");
  const std::string where = ref.display() + ": ";
  if (status == 404) {
    if (code == "RepoNotFound")
      return where + "repository '" + ref.repo + "' not found on " + host_of(endpoint()) +
             " (HTTP 404; a private repository also needs HF_TOKEN)";
    if (code == "RevisionNotFound")
      return where + "revision '" + ref.revision + "' not found in '" + ref.repo + "' (HTTP 404)";
    return where + "file '" + ref.file + "' not found in repository '" + ref.repo + "' at revision '" + ref.revision +
           "' (HTTP 404)";
  }
  if (status == 401 || status == 403) {
    return where + "access denied (HTTP " + std::to_string(status) + (code.empty() ? "" : ", " + code) +
           "): the repository is private or gated; accept its terms on the model page and set HF_TOKEN to a token "
           "with read access";
  }
  if (status == 429) return where + "rate-limited by the hub (HTTP 429): try again later, or set HF_TOKEN";
  return where + "the hub answered HTTP " + std::to_string(status) + (code.empty() ? "" : " (" + code + ")");
}

struct Remote {
  std::string sha256;
  uint64_t size = 0;
  bool has_size = false;
};

// SHA-256 and size from the tree API, for endpoints whose resolve answers lack them. "" when found.
std::string remote_from_tree(const ModelRef& ref, Remote& r) {
  const size_t slash = ref.file.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : ref.file.substr(0, slash);
  const std::string url = endpoint() + "/api/models/" + ref.repo + "/tree/" + url_escape(ref.revision, false) +
                          (dir.empty() ? "" : "/" + url_escape(dir, true));
  Curl c;
  common_setup(c, url);
  std::string body;
  curl_easy_setopt(c.h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c.h, CURLOPT_MAXREDIRS, 5L);
  curl_easy_setopt(c.h, CURLOPT_TIMEOUT, kMetadataTimeoutS);
  curl_easy_setopt(c.h, CURLOPT_WRITEFUNCTION, on_body_to_string);
  curl_easy_setopt(c.h, CURLOPT_WRITEDATA, &body);
  const CURLcode rc = curl_easy_perform(c.h);
  long status = 0;
  curl_easy_getinfo(c.h, CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK) return url + ": " + (c.err[0] ? c.err : curl_easy_strerror(rc));
  if (status != 200) return url + ": HTTP " + std::to_string(status);
  const auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array()) return url + ": expected a JSON array of entries";
  for (const auto& e : j) {
    if (!e.is_object() || !e.contains("path") || !e["path"].is_string() || e["path"] != ref.file) continue;
    if (!e.contains("lfs") || !e["lfs"].is_object()) return url + ": '" + ref.file + "' is not an LFS file";
    const auto& lfs = e["lfs"];
    for (const char* k : {"oid", "sha256"})
      if (lfs.contains(k) && lfs[k].is_string() && is_sha256(lfs[k].get<std::string>()))
        r.sha256 = lower(lfs[k].get<std::string>());
    if (lfs.contains("size") && lfs["size"].is_number_unsigned()) {
      r.size = lfs["size"].get<uint64_t>();
      r.has_size = true;
    }
    return r.sha256.empty() ? url + ": no lfs.oid for '" + ref.file + "'" : "";
  }
  return url + ": no entry for '" + ref.file + "'";
}

// HEAD of the resolve URL: the file's SHA-256 and size. "" on success, else the message.
std::string fetch_remote(const ModelRef& ref, Remote& r) {
  std::string url = resolve_url(ref);
  for (int hop = 0; hop < 6; ++hop) {
    Curl c;
    common_setup(c, url);
    Headers hs;
    curl_easy_setopt(c.h, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(c.h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c.h, CURLOPT_TIMEOUT, kMetadataTimeoutS);
    curl_easy_setopt(c.h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c.h, CURLOPT_HEADERDATA, &hs);
    const CURLcode rc = curl_easy_perform(c.h);
    if (rc != CURLE_OK) return offline_message(c.err[0] ? c.err : curl_easy_strerror(rc));
    long status = 0;
    curl_easy_getinfo(c.h, CURLINFO_RESPONSE_CODE, &status);
    const std::string location = hs.get("location");
    if (status >= 300 && status < 400 && !location.empty() && location[0] == '/' && location.rfind("//", 0) != 0 &&
        hs.get("x-linked-etag").empty()) {
      url = origin_of(url) + location;  // same host: a renamed repository
      continue;
    }
    if (status >= 400 || status < 200) return http_error(ref, status, hs);
    const std::string linked = normalize_etag(hs.get("x-linked-etag"));
    const std::string etag = normalize_etag(hs.get("etag"));
    if (is_sha256(linked)) {
      r.sha256 = lower(linked);
    } else if (is_sha256(etag)) {
      r.sha256 = lower(etag);
    }
    const std::string size = !hs.get("x-linked-size").empty() ? hs.get("x-linked-size") : hs.get("content-length");
    r.has_size = parse_u64(size, r.size) && (status < 300 || !hs.get("x-linked-size").empty());
    if (r.sha256.empty()) {
      const std::string err = remote_from_tree(ref, r);
      if (!err.empty())
        return ref.display() + ": the hub reported no SHA-256 for this file, so it cannot be verified (" + err + ")";
    }
    return "";
  }
  return ref.display() + ": too many redirects from " + resolve_url(ref);
}

struct Sha256 {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  Sha256() { reset(); }
  ~Sha256() { EVP_MD_CTX_free(ctx); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void reset() {
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) die("OpenSSL: cannot initialize SHA-256");
  }
  void update(const void* p, size_t n) { EVP_DigestUpdate(ctx, p, n); }
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx, md, &n);
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (unsigned int i = 0; i < n; ++i) {
      s += digits[md[i] >> 4];
      s += digits[md[i] & 15];
    }
    return s;
  }
};

// Progress on stderr: a bar redrawn in place on a terminal, a line per 10% otherwise (logs, CI).
struct Progress {
  std::string name;
  uint64_t total = 0;  // 0: unknown
  uint64_t start = 0;  // bytes already there when this run began (resumed)
  bool tty = ::isatty(STDERR_FILENO) == 1;
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now(), last;
  int next_decile = 1;

  void update(uint64_t done, bool final) {
    const auto now = std::chrono::steady_clock::now();
    const double secs = std::chrono::duration<double>(now - t0).count();
    const double rate = secs > 0 ? (done - start) / secs : 0;  // bytes/s in this run
    const double mib = 1024.0 * 1024.0;
    if (tty) {
      if (!final && now - last < std::chrono::milliseconds(200)) return;
      last = now;
      char line[256];
      if (total) {
        const double frac = static_cast<double>(done) / total;
        const int width = 24, filled = static_cast<int>(frac * width);
        std::string bar(filled, '#');
        bar.resize(width, '.');
        const double eta = rate > 0 ? (total - done) / rate : 0;
        std::snprintf(line, sizeof line, "\r%s [%s] %5.1f%% %.1f/%.1f MiB %.1f MiB/s ETA %d:%02d ", name.c_str(),
                      bar.c_str(), 100 * frac, done / mib, total / mib, rate / mib, static_cast<int>(eta) / 60,
                      static_cast<int>(eta) % 60);
      } else {
        std::snprintf(line, sizeof line, "\r%s %.1f MiB %.1f MiB/s ", name.c_str(), done / mib, rate / mib);
      }
      std::fputs(line, stderr);
      if (final) std::fputc('\n', stderr);
      return;
    }
    if (!total) return;
    while (next_decile <= 10 && done * 10 >= total * static_cast<uint64_t>(next_decile)) {
      std::fprintf(stderr, "ondi: %s: %d%% (%.1f of %.1f MiB, %.1f MiB/s)\n", name.c_str(), 10 * next_decile,
                   done / mib, total / mib, rate / mib);
      ++next_decile;
    }
  }
};

struct Transfer {
  FILE* f = nullptr;
  Sha256* sha = nullptr;
  Progress* progress = nullptr;
  CURL* h = nullptr;
  uint64_t offset = 0;  // bytes in the part file before this request
  uint64_t done = 0;    // bytes in the part file now
  bool checked = false;
  bool restarted = false;  // the server ignored Range: started over
  long status = 0;
  bool http_error = false;  // a 4xx/5xx answer: its body is dropped, the status makes the message
  std::string error;        // set when the write callback aborts the transfer
  Headers* hs = nullptr;
};

size_t on_data(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  if (!t->checked) {
    t->checked = true;
    curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &t->status);
    if (t->status >= 400) {
      t->http_error = true;
    } else if (t->offset > 0 && t->status == 206) {
      // bytes START-END/TOTAL must start where the part file ends, or appending would corrupt it.
      const std::string cr = t->hs->get("content-range");
      uint64_t first = 0;
      const size_t sp = cr.find(' '), dash = cr.find('-');
      if (sp == std::string::npos || dash == std::string::npos || !parse_u64(cr.substr(sp + 1, dash - sp - 1), first) ||
          first != t->offset)
        t->error =
            "the server answered Range: bytes=" + std::to_string(t->offset) + "- with Content-Range '" + cr + "'";
    } else if (t->status == 200) {
      if (t->offset > 0) {  // Range not honoured: the body is the whole file
        if (std::fflush(t->f) != 0 || ::ftruncate(::fileno(t->f), 0) != 0 || std::fseek(t->f, 0, SEEK_SET) != 0)
          t->error = std::string("cannot truncate the partial download: ") + std::strerror(errno);
        t->sha->reset();
        t->offset = t->done = 0;
        t->progress->start = 0;
        t->restarted = true;
      }
    } else {
      t->error = "unexpected HTTP " + std::to_string(t->status) + " to a download request";
    }
  }
  if (t->http_error) return len;
  if (!t->error.empty()) return 0;
  if (std::fwrite(data, 1, len, t->f) != len) {
    t->error = std::string("writing the download: ") + std::strerror(errno);
    return 0;
  }
  t->sha->update(data, len);
  t->done += len;
  t->progress->update(t->done, false);
  return len;
}

bool mkdirs(const std::string& dir, std::string& err) {
  for (size_t i = 1; i <= dir.size(); ++i) {
    if (i < dir.size() && dir[i] != '/') continue;
    const std::string p = dir.substr(0, i);
    if (::mkdir(p.c_str(), 0755) != 0 && errno != EEXIST) {
      err = "cannot create the cache directory '" + p + "': " + std::strerror(errno);
      return false;
    }
  }
  return true;
}

bool file_size(const std::string& p, uint64_t& size) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return false;
  size = static_cast<uint64_t>(st.st_size);
  return true;
}

// Feeds the first `n` bytes of `path` to `sha`. false on a read error.
bool hash_prefix(const std::string& path, uint64_t n, Sha256& sha) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  std::unique_ptr<char[]> buf(new char[1 << 20]);
  while (n > 0) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(n, 1 << 20));
    const size_t got = std::fread(buf.get(), 1, want, f);
    if (got != want) break;
    sha.update(buf.get(), got);
    n -= got;
  }
  std::fclose(f);
  return n == 0;
}

void fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

std::string human(uint64_t b) { return human_bytes(static_cast<double>(b)); }

// The transfer under the lock. "" on success (the file is in place).
std::string download_locked(const ModelRef& ref, const std::string& path) {
  const std::string part = path + ".part";
  Remote remote;
  if (std::string err = fetch_remote(ref, remote); !err.empty()) return err;

  Sha256 sha;
  uint64_t have = 0;
  if (file_size(part, have) && remote.has_size && have > remote.size) {
    ::unlink(part.c_str());  // longer than the file: not a prefix of it
    have = 0;
  }
  if (have > 0 && !hash_prefix(part, have, sha)) {
    sha.reset();
    ::unlink(part.c_str());
    have = 0;
  }
  Progress progress;
  progress.name = ref.display();
  progress.total = remote.has_size ? remote.size : 0;
  progress.start = have;
  if (progress.total) progress.next_decile = static_cast<int>(have * 10 / progress.total) + 1;  // resumed: no replay
  if (have > 0)
    std::fprintf(stderr, "ondi: resuming %s at %s of %s\n", ref.display().c_str(), human(have).c_str(),
                 remote.has_size ? human(remote.size).c_str() : "?");
  else
    std::fprintf(stderr, "ondi: downloading %s (%s) to %s\n", ref.display().c_str(),
                 remote.has_size ? human(remote.size).c_str() : "size unknown", path.c_str());

  if (!(remote.has_size && have == remote.size)) {  // else the part is complete: only the check is left
    FILE* f = std::fopen(part.c_str(), "ab");
    if (!f) return "cannot write '" + part + "': " + std::strerror(errno);
    Curl c;
    common_setup(c, resolve_url(ref));
    Headers hs;
    Transfer t;
    t.f = f;
    t.sha = &sha;
    t.progress = &progress;
    t.h = c.h;
    t.offset = t.done = have;
    t.hs = &hs;
    curl_easy_setopt(c.h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c.h, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c.h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c.h, CURLOPT_HEADERDATA, &hs);
    curl_easy_setopt(c.h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c.h, CURLOPT_WRITEDATA, &t);
    const std::string range = std::to_string(have) + "-";
    if (have > 0) curl_easy_setopt(c.h, CURLOPT_RANGE, range.c_str());
    const CURLcode rc = curl_easy_perform(c.h);
    const bool flushed = std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0;
    std::fclose(f);
    if (progress.tty && t.done > have) progress.update(t.done, true);
    if (t.restarted) std::fprintf(stderr, "ondi: the server ignored the resume request: downloaded from the start\n");
    long status = 0;
    curl_easy_getinfo(c.h, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_OK && status >= 400) {
      if (status == 416) ::unlink(part.c_str());  // the part no longer fits the file: start over next time
      return http_error(ref, status, hs);
    }
    if (!t.error.empty()) return ref.display() + ": " + t.error;
    if (rc != CURLE_OK) {
      if (t.done == 0 && (rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST))
        return offline_message(c.err[0] ? c.err : curl_easy_strerror(rc));
      return "download of " + ref.display() + " interrupted at " + human(t.done) + " of " +
             (remote.has_size ? human(remote.size) : "?") + " (" + (c.err[0] ? c.err : curl_easy_strerror(rc)) +
             "): run the same command again to resume";
    }
    if (!flushed) return "writing '" + part + "': " + std::strerror(errno);
    have = t.done;
  }
  if (remote.has_size && have != remote.size)
    return "download of " + ref.display() + " ended at " + human(have) + " of " + human(remote.size) +
           ": run the same command again to resume";
  const std::string got = sha.hex();
  if (got != remote.sha256) {
    ::unlink(part.c_str());
    return "checksum mismatch for " + ref.display() + ": the hub reports SHA-256 " + remote.sha256 +
           ", the downloaded file has " + got + "; the download was deleted (run again to retry)";
  }
  if (::rename(part.c_str(), path.c_str()) != 0)
    return "cannot move '" + part + "' into place: " + std::strerror(errno);
  fsync_dir(path.substr(0, path.rfind('/')));
  std::fprintf(stderr, "ondi: %s verified (SHA-256 %s)\n", ref.display().c_str(), got.c_str());
  return "";
}

}  // namespace

std::string download(const ModelRef& ref) {
  const std::string path = cache_path(ref);
  std::string err;
  if (!mkdirs(path.substr(0, path.rfind('/')), err)) return err;
  const int fd = lock(path, /*wait=*/true);
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) err = download_locked(ref, path);  // else another process just got it
  unlock(fd, path);
  return err;
}

}  // namespace ondi_cli::hub
