// GGUF reader. The file is hostile input: every length, count and offset is checked against what is left
// of the file (and for overflow) before anything is allocated or read, so that a 1 KB file claiming a
// 2^63-byte string fails with a message instead of an allocation.
#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>
#include <unordered_set>

#include "core/mmap_file.h"
#include "gguf/gguf.h"

namespace ondi {
namespace {

// Decoded metadata may take at most this much memory. Real vocabularies need tens of MB; the cap keeps a
// file of tiny array items (1 byte on disk, 16 in memory) from turning into a multi-GB allocation.
constexpr uint64_t kMaxMetadataMemory = uint64_t{1} << 30;

// Smallest encodings, used to bound counts by the bytes left before reserving.
constexpr size_t kMinKvBytes = 8 + 4 + 1;                  // key length, value type, 1-byte value
constexpr size_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // name length, n_dims, one ne, type, offset
constexpr size_t kMinStringBytes = 8;
constexpr size_t kMinArrayBytes = 4 + 8;  // element type, count

constexpr uint32_t kMaxValueType = static_cast<uint32_t>(GgufValueType::FLOAT64);

// Byte assembly rather than memcpy: correct on any host, and compilers turn it into one load.
inline uint16_t load_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
inline uint32_t load_u32(const uint8_t* p) {
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}
inline uint64_t load_u64(const uint8_t* p) { return uint64_t{load_u32(p)} | uint64_t{load_u32(p + 4)} << 32; }

size_t scalar_size(GgufValueType t) {
  switch (t) {
    case GgufValueType::UINT8:
    case GgufValueType::INT8:
    case GgufValueType::BOOL:
      return 1;
    case GgufValueType::UINT16:
    case GgufValueType::INT16:
      return 2;
    case GgufValueType::UINT32:
    case GgufValueType::INT32:
    case GgufValueType::FLOAT32:
      return 4;
    case GgufValueType::UINT64:
    case GgufValueType::INT64:
    case GgufValueType::FLOAT64:
      return 8;
    case GgufValueType::STRING:
    case GgufValueType::ARRAY:
      return 0;
  }
  return 0;
}

std::string quoted(std::string_view s) {
  // Names in messages come from the file: cap them so that a 1 MB name cannot flood a log.
  constexpr size_t kMax = 80;
  std::string r = "'";
  r.append(s.substr(0, kMax));
  if (s.size() > kMax) r += "...";
  r += "'";
  return r;
}

std::string type_str(uint32_t t) {
  if (t > kMaxValueType) return "type " + std::to_string(t);
  return std::string(gguf_value_type_name(static_cast<GgufValueType>(t)));
}

class Parser {
 public:
  Parser(const uint8_t* data, size_t size, const std::string& name) : d_(data), size_(size), name_(name) {}

  Status run(uint32_t& version, uint64_t& alignment, uint64_t& data_offset, std::vector<GgufKV>& kv,
             std::vector<GgufTensorInfo>& tensors);

 private:
  size_t left() const { return size_ - pos_; }

  Status fail(size_t at, const std::string& msg, Errc code = Errc::format) const {
    std::string m = name_ + ": offset " + std::to_string(at) + ": ";
    if (!key_.empty()) m += "key " + quoted(key_) + ": ";
    return Status(code, m + msg);
  }
  Status truncated(size_t need, std::string_view what) const {
    return fail(pos_, "unexpected end of file reading " + std::string(what) + " (needs " + std::to_string(need) +
                          " bytes, " + std::to_string(left()) + " left)");
  }
  Status read_u32(uint32_t& v, std::string_view what) {
    if (left() < 4) return truncated(4, what);
    v = load_u32(d_ + pos_);
    pos_ += 4;
    return Status::Ok();
  }
  Status read_u64(uint64_t& v, std::string_view what) {
    if (left() < 8) return truncated(8, what);
    v = load_u64(d_ + pos_);
    pos_ += 8;
    return Status::Ok();
  }
  // A view into the file; the caller copies it if it keeps it.
  Status read_str(std::string_view& s, std::string_view what) {
    const size_t at = pos_;
    if (left() < 8) return truncated(8, std::string(what) + " length");
    const uint64_t len = load_u64(d_ + pos_);
    pos_ += 8;
    if (len > left())
      return fail(at, std::string(what) + " length " + std::to_string(len) + " exceeds the " + std::to_string(left()) +
                          " bytes left in the file");
    s = std::string_view(reinterpret_cast<const char*>(d_ + pos_), static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return Status::Ok();
  }
  Status charge(uint64_t bytes, size_t at) {
    if (bytes > kMaxMetadataMemory - mem_)
      return fail(at, "metadata would need more than " + std::to_string(kMaxMetadataMemory >> 20) + " MiB of memory",
                  Errc::unsupported);
    mem_ += bytes;
    return Status::Ok();
  }

  Status parse_value(GgufValueType t, GgufValue& out, int depth);
  Status parse_array(GgufValue& out, int depth);
  Status parse_kv(GgufKV& kv, uint64_t& alignment, std::unordered_set<std::string_view>& seen);
  Status parse_tensor_info(GgufTensorInfo& ti, uint64_t alignment, std::unordered_set<std::string_view>& seen,
                           size_t& offset_field);

  const uint8_t* d_;
  size_t size_;
  size_t pos_ = 0;
  const std::string& name_;
  std::string_view key_;  // the key whose value is being parsed, for messages
  uint64_t mem_ = 0;
};

Status Parser::parse_value(GgufValueType t, GgufValue& out, int depth) {
  out.type = t;
  const size_t at = pos_;
  const size_t sz = scalar_size(t);
  if (sz > 0 && left() < sz) return truncated(sz, type_str(static_cast<uint32_t>(t)) + " value");
  const uint8_t* p = d_ + pos_;
  switch (t) {
    case GgufValueType::UINT8:
      out.u64 = p[0];
      break;
    case GgufValueType::INT8:
      out.i64 = static_cast<int8_t>(p[0]);
      break;
    case GgufValueType::UINT16:
      out.u64 = load_u16(p);
      break;
    case GgufValueType::INT16:
      out.i64 = static_cast<int16_t>(load_u16(p));
      break;
    case GgufValueType::UINT32:
      out.u64 = load_u32(p);
      break;
    case GgufValueType::INT32:
      out.i64 = static_cast<int32_t>(load_u32(p));
      break;
    case GgufValueType::UINT64:
      out.u64 = load_u64(p);
      break;
    case GgufValueType::INT64:
      out.i64 = static_cast<int64_t>(load_u64(p));
      break;
    case GgufValueType::FLOAT32:
      out.f64 = std::bit_cast<float>(load_u32(p));
      break;
    case GgufValueType::FLOAT64:
      out.f64 = std::bit_cast<double>(load_u64(p));
      break;
    case GgufValueType::BOOL:
      if (p[0] > 1) return fail(at, "BOOL value is " + std::to_string(p[0]) + ", expected 0 or 1");
      out.b = p[0] != 0;
      out.u64 = p[0];
      break;
    case GgufValueType::STRING: {
      std::string_view s;
      ONDI_RETURN_IF_ERROR(read_str(s, "string"));
      ONDI_RETURN_IF_ERROR(charge(s.size(), at));
      out.str.assign(s);
      return Status::Ok();
    }
    case GgufValueType::ARRAY:
      return parse_array(out, depth + 1);
  }
  if (t == GgufValueType::INT8 || t == GgufValueType::INT16 || t == GgufValueType::INT32 || t == GgufValueType::INT64)
    out.u64 = static_cast<uint64_t>(out.i64);
  else
    out.i64 = static_cast<int64_t>(out.u64);
  pos_ += sz;
  return Status::Ok();
}

// Reads `n` fixed-size items starting at p into the widened vectors; one tight loop per element type.
template <class T, class Load>
void load_items(const uint8_t* p, size_t n, size_t stride, Load load, GgufValue& out, bool want_int) {
  out.arr_num.resize(n);
  double* num = out.arr_num.data();
  if (want_int) {
    out.arr_int.resize(n);
    int64_t* ints = out.arr_int.data();
    for (size_t i = 0; i < n; ++i, p += stride) {
      const T v = static_cast<T>(load(p));
      ints[i] = static_cast<int64_t>(v);
      num[i] = static_cast<double>(v);
    }
  } else {
    for (size_t i = 0; i < n; ++i, p += stride) num[i] = static_cast<double>(load(p));
  }
}

Status Parser::parse_array(GgufValue& out, int depth) {
  const size_t at = pos_;
  if (depth > kGgufMaxArrayDepth)
    return fail(at, "arrays nested deeper than " + std::to_string(kGgufMaxArrayDepth) + " levels");
  uint32_t et = 0;
  ONDI_RETURN_IF_ERROR(read_u32(et, "array element type"));
  if (et > kMaxValueType) return fail(at, "array element type " + std::to_string(et) + " is not a GGUF value type");
  const auto etype = static_cast<GgufValueType>(et);
  uint64_t n = 0;
  ONDI_RETURN_IF_ERROR(read_u64(n, "array length"));
  out.type = GgufValueType::ARRAY;
  out.elem_type = etype;
  const size_t item = scalar_size(etype);
  const size_t min_item = etype == GgufValueType::STRING  ? kMinStringBytes
                          : etype == GgufValueType::ARRAY ? kMinArrayBytes
                                                          : item;
  if (n > left() / min_item)
    return fail(at + 4, "array of " + std::to_string(n) + " " + type_str(et) + " items (at least " +
                            std::to_string(min_item) + " bytes each) does not fit in the " + std::to_string(left()) +
                            " bytes left");
  const auto count = static_cast<size_t>(n);

  if (item > 0) {
    const bool want_int = etype != GgufValueType::FLOAT32 && etype != GgufValueType::FLOAT64;
    ONDI_RETURN_IF_ERROR(charge(uint64_t{count} * (want_int ? 16 : 8), at));
    const uint8_t* p = d_ + pos_;
    switch (etype) {
      case GgufValueType::UINT8:
        load_items<uint8_t>(
            p, count, 1, [](const uint8_t* q) { return q[0]; }, out, true);
        break;
      case GgufValueType::INT8:
        load_items<int8_t>(
            p, count, 1, [](const uint8_t* q) { return q[0]; }, out, true);
        break;
      case GgufValueType::BOOL:
        for (size_t i = 0; i < count; ++i)
          if (p[i] > 1)
            return fail(pos_ + i, "array item " + std::to_string(i) + ": BOOL value is " + std::to_string(p[i]) +
                                      ", expected 0 or 1");
        load_items<uint8_t>(
            p, count, 1, [](const uint8_t* q) { return q[0]; }, out, true);
        break;
      case GgufValueType::UINT16:
        load_items<uint16_t>(p, count, 2, load_u16, out, true);
        break;
      case GgufValueType::INT16:
        load_items<int16_t>(p, count, 2, load_u16, out, true);
        break;
      case GgufValueType::UINT32:
        load_items<uint32_t>(p, count, 4, load_u32, out, true);
        break;
      case GgufValueType::INT32:
        load_items<int32_t>(p, count, 4, load_u32, out, true);
        break;
      case GgufValueType::UINT64:
        load_items<uint64_t>(p, count, 8, load_u64, out, true);
        break;
      case GgufValueType::INT64:
        load_items<int64_t>(p, count, 8, load_u64, out, true);
        break;
      case GgufValueType::FLOAT32:
        load_items<float>(
            p, count, 4, [](const uint8_t* q) { return std::bit_cast<float>(load_u32(q)); }, out, false);
        break;
      case GgufValueType::FLOAT64:
        load_items<double>(
            p, count, 8, [](const uint8_t* q) { return std::bit_cast<double>(load_u64(q)); }, out, false);
        break;
      default:
        break;
    }
    pos_ += count * item;
    return Status::Ok();
  }

  if (etype == GgufValueType::STRING) {
    // The vocabulary path: 150k strings, so no per-item Status or message building unless something is wrong.
    ONDI_RETURN_IF_ERROR(charge(uint64_t{count} * sizeof(std::string), at));
    out.arr_str.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      if (left() < 8) return truncated(8, "array item " + std::to_string(i) + " string length");
      const uint64_t len = load_u64(d_ + pos_);
      if (len > left() - 8)
        return fail(pos_, "array item " + std::to_string(i) + ": string length " + std::to_string(len) +
                              " exceeds the " + std::to_string(left() - 8) + " bytes left in the file");
      if (len > 15) ONDI_RETURN_IF_ERROR(charge(len, pos_));
      out.arr_str.emplace_back(reinterpret_cast<const char*>(d_ + pos_ + 8), static_cast<size_t>(len));
      pos_ += 8 + static_cast<size_t>(len);
    }
    return Status::Ok();
  }

  // Arrays of arrays: every inner array carries its own element type and length.
  ONDI_RETURN_IF_ERROR(charge(uint64_t{count} * sizeof(GgufValue), at));
  out.arr_nested.resize(count);
  for (size_t i = 0; i < count; ++i) ONDI_RETURN_IF_ERROR(parse_array(out.arr_nested[i], depth + 1));
  return Status::Ok();
}

Status Parser::parse_kv(GgufKV& kv, uint64_t& alignment, std::unordered_set<std::string_view>& seen) {
  const size_t at = pos_;
  std::string_view key;
  ONDI_RETURN_IF_ERROR(read_str(key, "metadata key"));
  if (key.empty()) return fail(at, "empty metadata key");
  if (!seen.insert(key).second) return fail(at, "duplicate metadata key " + quoted(key));
  kv.key.assign(key);
  key_ = key;
  const size_t type_at = pos_;
  uint32_t t = 0;
  ONDI_RETURN_IF_ERROR(read_u32(t, "value type"));
  if (t > kMaxValueType) return fail(type_at, "value type " + std::to_string(t) + " is not a GGUF value type");
  const size_t value_at = pos_;
  ONDI_RETURN_IF_ERROR(parse_value(static_cast<GgufValueType>(t), kv.value, 0));
  if (key == "general.alignment") {
    if (kv.value.type != GgufValueType::UINT32)
      return fail(type_at, "general.alignment must be UINT32, got " + type_str(t));
    const uint64_t a = kv.value.u64;
    if (a == 0 || (a & (a - 1)) != 0)
      return fail(value_at, "general.alignment is " + std::to_string(a) + ", expected a non-zero power of two");
    alignment = a;
  }
  key_ = {};
  return Status::Ok();
}

Status Parser::parse_tensor_info(GgufTensorInfo& ti, uint64_t alignment, std::unordered_set<std::string_view>& seen,
                                 size_t& offset_field) {
  const size_t at = pos_;
  std::string_view name;
  ONDI_RETURN_IF_ERROR(read_str(name, "tensor name"));
  const std::string q = "tensor " + quoted(name);
  if (!seen.insert(name).second) return fail(at, "duplicate " + q);
  ti.name.assign(name);

  const size_t nd_at = pos_;
  if (left() < 4) return truncated(4, "n_dims of " + q);
  ti.n_dims = load_u32(d_ + pos_);
  pos_ += 4;
  if (ti.n_dims < 1 || ti.n_dims > 4)
    return fail(nd_at, q + ": n_dims is " + std::to_string(ti.n_dims) + ", expected 1..4");
  // The rest of the info has a fixed size now: one bounds check instead of one per field.
  const size_t rest = 8 * ti.n_dims + 4 + 8;
  if (left() < rest) return truncated(rest, "the shape, type and offset of " + q);
  int64_t n_elements = 1;  // of the non-zero dims
  for (uint32_t i = 0; i < ti.n_dims; ++i) {
    const size_t ne_at = pos_;
    const uint64_t ne = load_u64(d_ + pos_);
    pos_ += 8;
    if (ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return fail(ne_at, q + ": ne[" + std::to_string(i) + "] = " + std::to_string(ne) + " is too large");
    ti.ne[i] = static_cast<int64_t>(ne);
    // Zeros are skipped so that {0, 2^62, 2^62} is refused too: consumers multiply the dims in any order.
    if (__builtin_mul_overflow(n_elements, std::max<int64_t>(ti.ne[i], 1), &n_elements))
      return fail(ne_at, q + ": element count overflows (ne[" + std::to_string(i) + "] = " + std::to_string(ne) + ")");
  }

  const size_t type_at = pos_;
  const uint32_t type = load_u32(d_ + pos_);
  pos_ += 4;
  const TypeInfo* info = type_info(type);
  if (!info) return fail(type_at, q + ": unknown type " + std::to_string(type), Errc::unsupported);
  ti.type = info->type;
  if (ti.ne[0] % info->block_size != 0)
    return fail(type_at, q + ": ne[0] = " + std::to_string(ti.ne[0]) + " is not a multiple of the " +
                             std::string(info->name) + " block size " + std::to_string(info->block_size));
  const std::optional<size_t> row = row_size(ti.type, ti.ne[0]);
  const uint64_t rows = static_cast<uint64_t>(ti.ne[1]) * static_cast<uint64_t>(ti.ne[2]) *
                        static_cast<uint64_t>(ti.ne[3]);  // cannot overflow: bounded by n_elements
  if (!row || __builtin_mul_overflow(uint64_t{*row}, rows, &ti.n_bytes))
    return fail(type_at, q + ": byte size overflows");

  offset_field = pos_;
  ti.offset = load_u64(d_ + pos_);
  pos_ += 8;
  if (ti.offset % alignment != 0)
    return fail(offset_field, q + ": data offset " + std::to_string(ti.offset) +
                                  " is not a multiple of the alignment " + std::to_string(alignment));
  return Status::Ok();
}

Status Parser::run(uint32_t& version, uint64_t& alignment, uint64_t& data_offset, std::vector<GgufKV>& kv,
                   std::vector<GgufTensorInfo>& tensors) {
  if (size_ < 4) return fail(0, "file too small for a GGUF header (" + std::to_string(size_) + " bytes)");
  if (std::memcmp(d_, "GGUF", 4) != 0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "bad magic %02X %02X %02X %02X, expected 47 47 55 46 (\"GGUF\")", d_[0], d_[1],
                  d_[2], d_[3]);
    return fail(0, buf);
  }
  pos_ = 4;
  ONDI_RETURN_IF_ERROR(read_u32(version, "version"));
  if (version == 0x02000000u || version == 0x03000000u)
    return fail(4,
                "big-endian GGUF (version bytes " + std::to_string(version >> 24) +
                    " in the wrong order) is not supported; only little-endian files are",
                Errc::unsupported);
  if (version != 2 && version != 3)
    return fail(4, "unsupported GGUF version " + std::to_string(version) + " (supported: 2, 3)", Errc::unsupported);

  uint64_t n_tensors = 0, n_kv = 0;
  const size_t nt_at = pos_;
  ONDI_RETURN_IF_ERROR(read_u64(n_tensors, "tensor count"));
  const size_t nkv_at = pos_;
  ONDI_RETURN_IF_ERROR(read_u64(n_kv, "metadata count"));
  if (n_kv > left() / kMinKvBytes)
    return fail(nkv_at, "metadata count " + std::to_string(n_kv) + " cannot fit in the " + std::to_string(left()) +
                            " bytes left (each entry takes at least " + std::to_string(kMinKvBytes) + ")");
  // Tensor infos follow the metadata, so this bound is loose here and exact once the metadata is read.
  if (n_tensors > left() / kMinTensorInfoBytes)
    return fail(nt_at, "tensor count " + std::to_string(n_tensors) + " cannot fit in the " + std::to_string(left()) +
                           " bytes left (each tensor info takes at least " + std::to_string(kMinTensorInfoBytes) + ")");

  ONDI_RETURN_IF_ERROR(charge(n_kv * sizeof(GgufKV), nkv_at));
  kv.resize(static_cast<size_t>(n_kv));
  std::unordered_set<std::string_view> seen;
  seen.reserve(static_cast<size_t>(n_kv));
  for (auto& e : kv) ONDI_RETURN_IF_ERROR(parse_kv(e, alignment, seen));

  if (n_tensors > left() / kMinTensorInfoBytes)
    return fail(nt_at, "tensor count " + std::to_string(n_tensors) + " cannot fit in the " + std::to_string(left()) +
                           " bytes left after the metadata");
  ONDI_RETURN_IF_ERROR(charge(n_tensors * (sizeof(GgufTensorInfo) + sizeof(size_t)), nt_at));
  tensors.resize(static_cast<size_t>(n_tensors));
  std::vector<size_t> offset_fields(tensors.size());
  seen.clear();
  seen.reserve(tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i)
    ONDI_RETURN_IF_ERROR(parse_tensor_info(tensors[i], alignment, seen, offset_fields[i]));

  const uint64_t pad = (alignment - pos_ % alignment) % alignment;
  data_offset = pos_ + pad;
  if (tensors.empty()) return Status::Ok();  // nothing lives in the data section, which may be absent
  if (data_offset > size_)
    return fail(pos_, "data section starts at " + std::to_string(data_offset) + " (aligned to " +
                          std::to_string(alignment) + "), past the end of the file (" + std::to_string(size_) +
                          " bytes)");
  const uint64_t data_size = size_ - data_offset;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const GgufTensorInfo& t = tensors[i];
    if (t.offset > data_size || t.n_bytes > data_size - t.offset) {
      std::string where = t.offset > data_size ? "offset " + std::to_string(t.offset) + " of the data section"
                                               : std::to_string(data_offset + t.offset);
      return fail(offset_fields[i], "tensor " + quoted(t.name) + " extends past end of file (needs " +
                                        std::to_string(t.n_bytes) + " bytes at " + where + ", file is " +
                                        std::to_string(size_) + ")");
    }
  }
  // Two tensors sharing bytes means a corrupt or crafted index; refuse rather than alias weights.
  std::vector<uint32_t> order(tensors.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<uint32_t>(i);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return tensors[a].offset < tensors[b].offset; });
  const GgufTensorInfo* prev = nullptr;
  for (uint32_t i : order) {
    const GgufTensorInfo& t = tensors[i];
    if (t.n_bytes == 0) continue;
    if (prev && prev->offset + prev->n_bytes > t.offset)
      return fail(offset_fields[i], "tensor " + quoted(t.name) + " (bytes " + std::to_string(t.offset) + ".." +
                                        std::to_string(t.offset + t.n_bytes) +
                                        " of the data section) overlaps tensor " + quoted(prev->name) + " (bytes " +
                                        std::to_string(prev->offset) + ".." +
                                        std::to_string(prev->offset + prev->n_bytes) + ")");
    prev = &t;
  }
  return Status::Ok();
}

template <class T>
std::vector<uint32_t> sorted_index(const std::vector<T>& v, std::string T::*field) {
  std::vector<uint32_t> idx(v.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<uint32_t>(i);
  std::sort(idx.begin(), idx.end(), [&](uint32_t a, uint32_t b) { return v[a].*field < v[b].*field; });
  return idx;
}

template <class T>
const T* find_sorted(const std::vector<T>& v, const std::vector<uint32_t>& idx, std::string T::*field,
                     std::string_view key) {
  auto it = std::lower_bound(idx.begin(), idx.end(), key,
                             [&](uint32_t i, std::string_view k) { return std::string_view(v[i].*field) < k; });
  if (it == idx.end() || v[*it].*field != key) return nullptr;
  return &v[*it];
}

}  // namespace

GgufFile::~GgufFile() = default;

Result<std::unique_ptr<GgufFile>> GgufFile::open(const std::string& path) {
  auto mapped = MappedFile::open(path);
  if (!mapped.ok()) return mapped.status();
  return from_mapping(std::move(mapped).value());
}

Result<std::unique_ptr<GgufFile>> GgufFile::from_mapping(std::unique_ptr<MappedFile> mapping) {
  if (!mapping) return Status(Errc::invalid_argument, "GgufFile::from_mapping: null mapping");
  std::unique_ptr<GgufFile> f(new (std::nothrow) GgufFile());
  if (!f) return Status(Errc::out_of_memory, mapping->name() + ": out of memory");
  f->name_ = mapping->name();
  f->mapping_ = std::move(mapping);
  f->data_ = f->mapping_->data();
  f->size_ = f->mapping_->size();
  ONDI_RETURN_IF_ERROR(f->parse());
  return f;
}

Result<std::unique_ptr<GgufFile>> GgufFile::from_memory(const void* data, size_t size, std::string name) {
  if (!data && size > 0) return Status(Errc::invalid_argument, name + ": null buffer");
  std::unique_ptr<GgufFile> f(new (std::nothrow) GgufFile());
  if (!f) return Status(Errc::out_of_memory, name + ": out of memory");
  f->name_ = std::move(name);
  f->data_ = static_cast<const uint8_t*>(data);
  f->size_ = size;
  ONDI_RETURN_IF_ERROR(f->parse());
  return f;
}

Status GgufFile::parse() {
  try {
    Parser p(data_, size_, name_);
    Status s = p.run(version_, alignment_, data_offset_, kv_, tensors_);
    if (!s.ok()) {
      kv_.clear();
      tensors_.clear();
      return s;
    }
    kv_index_ = sorted_index(kv_, &GgufKV::key);
    tensor_index_ = sorted_index(tensors_, &GgufTensorInfo::name);
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return Status(Errc::out_of_memory, name_ + ": out of memory while reading the GGUF header");
  } catch (const std::length_error&) {
    return Status(Errc::out_of_memory, name_ + ": out of memory while reading the GGUF header");
  }
}

const GgufValue* GgufFile::find(std::string_view key) const {
  const GgufKV* kv = find_sorted(kv_, kv_index_, &GgufKV::key, key);
  return kv ? &kv->value : nullptr;
}

const GgufTensorInfo* GgufFile::find_tensor(std::string_view name) const {
  return find_sorted(tensors_, tensor_index_, &GgufTensorInfo::name, name);
}

namespace {

Status missing(const std::string& file, std::string_view key) {
  return Status(Errc::format, file + ": missing key '" + std::string(key) + "'");
}
Status wrong_type(const std::string& file, std::string_view key, const GgufValue& v, std::string_view expected) {
  std::string got(gguf_value_type_name(v.type));
  if (v.type == GgufValueType::ARRAY) got += " of " + std::string(gguf_value_type_name(v.elem_type));
  return Status(Errc::format,
                file + ": key '" + std::string(key) + "' is " + got + ", expected " + std::string(expected));
}
Status out_of_range(const std::string& file, std::string_view key, const GgufValue& v, std::string_view expected) {
  return Status(Errc::format, file + ": key '" + std::string(key) + "' = " + v.to_string() + " (" +
                                  std::string(gguf_value_type_name(v.type)) + ") is out of range for " +
                                  std::string(expected));
}
bool is_signed(GgufValueType t) {
  return t == GgufValueType::INT8 || t == GgufValueType::INT16 || t == GgufValueType::INT32 ||
         t == GgufValueType::INT64;
}

}  // namespace

Result<uint64_t> GgufFile::get_u64(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return missing(name_, key);
  if (!v->is_integer()) return wrong_type(name_, key, *v, "an unsigned integer");
  if (is_signed(v->type) && v->i64 < 0) return out_of_range(name_, key, *v, "an unsigned integer");
  return is_signed(v->type) ? static_cast<uint64_t>(v->i64) : v->u64;
}

Result<int64_t> GgufFile::get_i64(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return missing(name_, key);
  if (!v->is_integer()) return wrong_type(name_, key, *v, "an integer");
  if (is_signed(v->type)) return v->i64;
  if (v->u64 > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return out_of_range(name_, key, *v, "a 64-bit signed integer");
  return static_cast<int64_t>(v->u64);
}

Result<uint32_t> GgufFile::get_u32(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return missing(name_, key);
  if (!v->is_integer()) return wrong_type(name_, key, *v, "an unsigned 32-bit integer");
  const bool neg = is_signed(v->type) && v->i64 < 0;
  const uint64_t u = is_signed(v->type) ? static_cast<uint64_t>(v->i64) : v->u64;
  if (neg || u > std::numeric_limits<uint32_t>::max()) return out_of_range(name_, key, *v, "a 32-bit unsigned integer");
  return static_cast<uint32_t>(u);
}

Result<double> GgufFile::get_f64(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return missing(name_, key);
  if (v->is_float()) return v->f64;
  if (v->is_integer()) return is_signed(v->type) ? static_cast<double>(v->i64) : static_cast<double>(v->u64);
  return wrong_type(name_, key, *v, "a number");
}

Result<float> GgufFile::get_f32(std::string_view key) const {
  auto r = get_f64(key);
  if (!r.ok()) return r.status();
  return static_cast<float>(*r);
}

Result<bool> GgufFile::get_bool(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return missing(name_, key);
  if (v->type != GgufValueType::BOOL) return wrong_type(name_, key, *v, "BOOL");
  return v->b;
}

Result<std::string> GgufFile::get_str(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return missing(name_, key);
  if (v->type != GgufValueType::STRING) return wrong_type(name_, key, *v, "STRING");
  return v->str;
}

Result<const GgufValue*> GgufFile::get_arr(std::string_view key) const {
  const GgufValue* v = find(key);
  if (!v) return missing(name_, key);
  if (v->type != GgufValueType::ARRAY) return wrong_type(name_, key, *v, "ARRAY");
  return v;
}

}  // namespace ondi
