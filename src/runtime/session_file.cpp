#include "runtime/session_file.h"

#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/mmap_file.h"

namespace ondi {
namespace {

constexpr char kMagic[8] = {'O', 'N', 'D', 'I', 'S', 'E', 'S', 'S'};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kKvF16 = 1;
constexpr uint32_t kKvQ8_0 = 2;
constexpr size_t kHeaderSize = 48;

void put_u32(std::vector<uint8_t>& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_u64(std::vector<uint8_t>& b, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
uint32_t get_u32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(p[i]) << (8 * i);
  return v;
}
uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

}  // namespace

uint64_t model_fingerprint(const Model& m) {
  const GgufFile& f = m.gguf();
  XXH3_state_t* st = XXH3_createState();
  XXH3_64bits_reset(st);
  XXH3_64bits_update(st, f.file_data(), static_cast<size_t>(f.data_offset()));
  for (const auto& t : f.tensors())
    XXH3_64bits_update(st, f.tensor_data(t), static_cast<size_t>(std::min<uint64_t>(t.n_bytes, 4096)));
  const uint64_t size = f.file_size();
  XXH3_64bits_update(st, &size, sizeof size);
  const uint64_t h = XXH3_64bits_digest(st);
  XXH3_freeState(st);
  return h;
}

Status save_session(Context& ctx, int32_t seq, const SessionState& state, const std::string& path) {
  if (seq < 0 || seq >= ctx.params().n_seq) return Status(Errc::invalid_argument, "save_session: bad sequence id");
  const int32_t n = ctx.seq_len(seq);
  if (static_cast<size_t>(n) != state.tokens.size())
    return Status(Errc::internal, "save_session: the session's tokens do not match its KV cache");
  const HParams& hp = ctx.model().hparams();
  const bool has_logits = state.last_logits.size() == static_cast<size_t>(hp.n_vocab);
  try {
    std::vector<uint8_t> b;
    b.insert(b.end(), kMagic, kMagic + 8);
    put_u32(b, kVersion);
    put_u32(b, ctx.kv_type() == GgmlType::Q8_0 ? kKvQ8_0 : kKvF16);
    put_u64(b, model_fingerprint(ctx.model()));
    for (int64_t v : {hp.n_layer, ctx.k_row(), ctx.v_row(), hp.n_vocab, static_cast<int64_t>(n)})
      put_u32(b, static_cast<uint32_t>(v));
    put_u32(b, has_logits ? 1 : 0);
    auto append = [&b](const void* p, size_t bytes) {
      b.insert(b.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + bytes);
    };
    append(state.tokens.data(), state.tokens.size() * sizeof(int32_t));
    if (has_logits) append(state.last_logits.data(), state.last_logits.size() * sizeof(float));
    std::vector<uint8_t> kr(static_cast<size_t>(n) * ctx.k_row_bytes()), vr(static_cast<size_t>(n) * ctx.v_row_bytes());
    for (int64_t l = 0; l < hp.n_layer; ++l) {
      ctx.kv_save(l, seq, static_cast<int32_t>(n), kr.data(), vr.data());
      append(kr.data(), kr.size());
      append(vr.data(), vr.size());
    }
    put_u64(b, XXH3_64bits(b.data(), b.size()));

    const std::string tmp = path + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) return Status(Errc::io, tmp + ": cannot create: " + std::strerror(errno));
    const bool wrote = std::fwrite(b.data(), 1, b.size(), f) == b.size();
    const bool closed = std::fclose(f) == 0;
    if (!wrote || !closed || std::rename(tmp.c_str(), path.c_str()) != 0) {
      const int err = errno;
      std::remove(tmp.c_str());
      return Status(Errc::io, path + ": writing the session failed: " + std::strerror(err));
    }
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return Status(Errc::out_of_memory, path + ": out of memory while saving the session");
  }
}

Result<SessionState> load_session(Context& ctx, int32_t seq, const std::string& path) {
  if (seq < 0 || seq >= ctx.params().n_seq) return Status(Errc::invalid_argument, "load_session: bad sequence id");
  ONDI_ASSIGN_OR_RETURN(auto map, MappedFile::open(path));
  const uint8_t* d = map->data();
  const size_t size = map->size();
  auto bad = [&](size_t off, const std::string& what) {
    return Status(Errc::format, path + ": offset " + std::to_string(off) + ": " + what);
  };
  if (size < kHeaderSize + 8 || std::memcmp(d, kMagic, 8) != 0) return bad(0, "not an ondi session file");
  if (get_u32(d + 8) != kVersion)
    return Status(Errc::unsupported, path + ": session file version " + std::to_string(get_u32(d + 8)) +
                                         " is not supported (expected " + std::to_string(kVersion) + ")");
  if (XXH3_64bits(d, size - 8) != get_u64(d + size - 8)) return bad(size - 8, "checksum mismatch (corrupt file)");
  const uint32_t kv = get_u32(d + 12);
  if (kv != kKvF16 && kv != kKvQ8_0) return bad(12, "unknown KV cache type " + std::to_string(kv));
  if ((kv == kKvQ8_0) != (ctx.kv_type() == GgmlType::Q8_0))
    return Status(Errc::invalid_argument, path + ": the session's KV cache is " + (kv == kKvQ8_0 ? "Q8_0" : "F16") +
                                              " but this context's is " + std::string(type_name(ctx.kv_type())));
  if (get_u64(d + 16) != model_fingerprint(ctx.model()))
    return Status(Errc::invalid_argument, path + ": the session was saved with a different model");
  const HParams& hp = ctx.model().hparams();
  const uint32_t n_layer = get_u32(d + 24), k_row = get_u32(d + 28), v_row = get_u32(d + 32), n_vocab = get_u32(d + 36),
                 n = get_u32(d + 40), has_logits = get_u32(d + 44);
  if (n_layer != hp.n_layer || k_row != ctx.k_row() || v_row != ctx.v_row() || n_vocab != hp.n_vocab || has_logits > 1)
    return bad(24, "shapes do not match the model");
  if (n > static_cast<uint32_t>(ctx.params().n_ctx))
    return Status(Errc::out_of_range, path + ": the session holds " + std::to_string(n) +
                                          " tokens, more than the context's " + std::to_string(ctx.params().n_ctx));
  // Sizes are bounded above (n <= n_ctx, rows <= model dims), so this cannot overflow 64 bits.
  const uint64_t kb = ctx.k_row_bytes(), vb = ctx.v_row_bytes();
  const uint64_t expect = kHeaderSize + 4ull * n + (has_logits ? 4ull * n_vocab : 0) + n * (kb + vb) * n_layer + 8;
  if (expect != size)
    return bad(0, "size " + std::to_string(size) + " does not match its header (" + std::to_string(expect) + ")");
  SessionState st;
  size_t off = kHeaderSize;
  st.tokens.resize(n);
  if (n > 0) std::memcpy(st.tokens.data(), d + off, 4ull * n);  // an empty vector's data() may be null
  for (uint32_t i = 0; i < n; ++i)
    if (st.tokens[i] < 0 || st.tokens[i] >= static_cast<int32_t>(n_vocab))
      return bad(off + 4ull * i, "token id " + std::to_string(st.tokens[i]) + " is out of range");
  off += 4ull * n;
  if (has_logits) {
    st.last_logits.resize(n_vocab);
    std::memcpy(st.last_logits.data(), d + off, 4ull * n_vocab);
    off += 4ull * n_vocab;
  }
  for (int64_t l = 0; l < hp.n_layer; ++l) {
    ctx.kv_load(l, seq, static_cast<int32_t>(n), d + off, d + off + n * kb);
    off += n * kb + n * vb;
  }
  ctx.seq_restore_len(seq, static_cast<int32_t>(n));
  return st;
}

}  // namespace ondi
