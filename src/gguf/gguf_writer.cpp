// GGUF writer: header, metadata in insertion order, tensor infos, then tensor data at aligned offsets with
// zero padding. Files are written to a temporary sibling and renamed, so a reader never sees half a model.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>

#include "gguf/gguf.h"

namespace ondi {
namespace {

constexpr std::string_view kAlignmentKey = "general.alignment";

void put_u8(std::vector<uint8_t>& b, uint8_t v) { b.push_back(v); }
void put_u16(std::vector<uint8_t>& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v));
  b.push_back(static_cast<uint8_t>(v >> 8));
}
void put_u32(std::vector<uint8_t>& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_u64(std::vector<uint8_t>& b, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_str(std::vector<uint8_t>& b, std::string_view s) {
  put_u64(b, s.size());
  b.insert(b.end(), s.begin(), s.end());
}

// Writes one fixed-size item of an integer/BOOL type from its exact 64-bit form.
void put_int_item(std::vector<uint8_t>& b, GgufValueType t, uint64_t bits) {
  switch (t) {
    case GgufValueType::UINT8:
    case GgufValueType::INT8:
      put_u8(b, static_cast<uint8_t>(bits));
      break;
    case GgufValueType::BOOL:
      put_u8(b, bits != 0 ? 1 : 0);
      break;
    case GgufValueType::UINT16:
    case GgufValueType::INT16:
      put_u16(b, static_cast<uint16_t>(bits));
      break;
    case GgufValueType::UINT32:
    case GgufValueType::INT32:
      put_u32(b, static_cast<uint32_t>(bits));
      break;
    default:
      put_u64(b, bits);
      break;
  }
}

void put_float_item(std::vector<uint8_t>& b, GgufValueType t, double v) {
  if (t == GgufValueType::FLOAT32)
    put_u32(b, std::bit_cast<uint32_t>(static_cast<float>(v)));
  else
    put_u64(b, std::bit_cast<uint64_t>(v));
}

uint64_t double_to_bits(GgufValueType t, double v) {
  // Integer arrays given only through arr_num: convert by the element's signedness.
  const bool is_unsigned = t == GgufValueType::UINT8 || t == GgufValueType::UINT16 || t == GgufValueType::UINT32 ||
                           t == GgufValueType::UINT64 || t == GgufValueType::BOOL;
  return is_unsigned ? static_cast<uint64_t>(v) : static_cast<uint64_t>(static_cast<int64_t>(v));
}

Status check_value(const GgufValue& v, int depth, const std::string& key) {
  if (static_cast<uint32_t>(v.type) > static_cast<uint32_t>(GgufValueType::FLOAT64))
    return Status(Errc::invalid_argument,
                  "key '" + key + "': invalid value type " + std::to_string(static_cast<uint32_t>(v.type)));
  if (v.type != GgufValueType::ARRAY) return Status::Ok();
  if (depth >= kGgufMaxArrayDepth)
    return Status(Errc::invalid_argument,
                  "key '" + key + "': arrays nested deeper than " + std::to_string(kGgufMaxArrayDepth) + " levels");
  if (static_cast<uint32_t>(v.elem_type) > static_cast<uint32_t>(GgufValueType::FLOAT64))
    return Status(Errc::invalid_argument, "key '" + key + "': invalid array element type " +
                                              std::to_string(static_cast<uint32_t>(v.elem_type)));
  if (v.elem_type == GgufValueType::ARRAY) {
    for (const GgufValue& e : v.arr_nested) {
      if (e.type != GgufValueType::ARRAY)
        return Status(Errc::invalid_argument,
                      "key '" + key + "': an array of arrays holds a " + std::string(gguf_value_type_name(e.type)));
      ONDI_RETURN_IF_ERROR(check_value(e, depth + 1, key));
    }
  }
  return Status::Ok();
}

void put_array(std::vector<uint8_t>& b, const GgufValue& v);

void put_value(std::vector<uint8_t>& b, const GgufValue& v) {
  switch (v.type) {
    case GgufValueType::STRING:
      put_str(b, v.str);
      break;
    case GgufValueType::ARRAY:
      put_array(b, v);
      break;
    case GgufValueType::FLOAT32:
    case GgufValueType::FLOAT64:
      put_float_item(b, v.type, v.f64);
      break;
    case GgufValueType::BOOL:
      put_u8(b, v.b ? 1 : 0);
      break;
    case GgufValueType::INT8:
    case GgufValueType::INT16:
    case GgufValueType::INT32:
    case GgufValueType::INT64:
      put_int_item(b, v.type, static_cast<uint64_t>(v.i64));
      break;
    default:
      put_int_item(b, v.type, v.u64);
      break;
  }
}

void put_array(std::vector<uint8_t>& b, const GgufValue& v) {
  const GgufValueType et = v.elem_type;
  put_u32(b, static_cast<uint32_t>(et));
  put_u64(b, v.array_size());
  if (et == GgufValueType::STRING) {
    size_t total = 0;
    for (const auto& s : v.arr_str) total += 8 + s.size();
    b.reserve(b.size() + total);
    for (const auto& s : v.arr_str) put_str(b, s);
  } else if (et == GgufValueType::ARRAY) {
    for (const auto& e : v.arr_nested) put_array(b, e);
  } else if (et == GgufValueType::FLOAT32 || et == GgufValueType::FLOAT64) {
    for (double x : v.arr_num) put_float_item(b, et, x);
  } else if (!v.arr_int.empty()) {
    for (int64_t x : v.arr_int) put_int_item(b, et, static_cast<uint64_t>(x));
  } else {
    for (double x : v.arr_num) put_int_item(b, et, double_to_bits(et, x));
  }
}

std::string errno_text(int e) { return std::strerror(e); }

Status write_all(int fd, const uint8_t* p, size_t n, const std::string& what) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status(Errc::io, what + ": write failed: " + errno_text(errno));
    }
    if (w == 0) return Status(Errc::io, what + ": write failed: wrote 0 bytes");
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

Status write_zeros(int fd, size_t n, const std::string& what) {
  static const uint8_t kZeros[4096] = {};
  while (n > 0) {
    const size_t k = n < sizeof kZeros ? n : sizeof kZeros;
    ONDI_RETURN_IF_ERROR(write_all(fd, kZeros, k, what));
    n -= k;
  }
  return Status::Ok();
}

}  // namespace

void GgufWriter::set(std::string key, GgufValue value) {
  if (key == kAlignmentKey && value.type == GgufValueType::UINT32 && value.u64 <= UINT32_MAX)
    alignment_ = static_cast<uint32_t>(value.u64);
  for (auto& kv : kv_) {
    if (kv.key == key) {
      kv.value = std::move(value);
      return;
    }
  }
  kv_.push_back(GgufKV{std::move(key), std::move(value)});
}

void GgufWriter::set_u32(std::string key, uint32_t v) {
  set(std::move(key), GgufValue::make_uint(GgufValueType::UINT32, v));
}
void GgufWriter::set_i32(std::string key, int32_t v) {
  set(std::move(key), GgufValue::make_int(GgufValueType::INT32, v));
}
void GgufWriter::set_u64(std::string key, uint64_t v) {
  set(std::move(key), GgufValue::make_uint(GgufValueType::UINT64, v));
}
void GgufWriter::set_f32(std::string key, float v) {
  set(std::move(key), GgufValue::make_float(GgufValueType::FLOAT32, v));
}
void GgufWriter::set_bool(std::string key, bool v) { set(std::move(key), GgufValue::make_bool(v)); }
void GgufWriter::set_str(std::string key, std::string v) { set(std::move(key), GgufValue::make_str(std::move(v))); }
void GgufWriter::set_arr_str(std::string key, std::vector<std::string> v) {
  set(std::move(key), GgufValue::make_arr_str(std::move(v)));
}
void GgufWriter::set_arr_i32(std::string key, const std::vector<int32_t>& v) {
  set(std::move(key), GgufValue::make_arr_int(GgufValueType::INT32, std::vector<int64_t>(v.begin(), v.end())));
}
void GgufWriter::set_arr_f32(std::string key, const std::vector<float>& v) {
  set(std::move(key), GgufValue::make_arr_float(GgufValueType::FLOAT32, std::vector<double>(v.begin(), v.end())));
}

void GgufWriter::set_alignment(uint32_t a) {
  alignment_ = a;
  bool present = false;
  for (const auto& kv : kv_) present = present || kv.key == kAlignmentKey;
  // 32 is the default readers assume, so it need not be written; an existing key is kept in step.
  if (a != kGgufDefaultAlignment || present)
    set(std::string(kAlignmentKey), GgufValue::make_uint(GgufValueType::UINT32, a));
}

Status GgufWriter::add_tensor(std::string name, GgmlType type, const std::vector<int64_t>& ne,
                              std::vector<uint8_t> data) {
  if (name.empty()) return Status(Errc::invalid_argument, "tensor name is empty");
  for (const auto& t : tensors_)
    if (t.name == name) return Status(Errc::invalid_argument, "duplicate tensor '" + name + "'");
  if (ne.empty() || ne.size() > 4)
    return Status(Errc::invalid_argument,
                  "tensor '" + name + "': " + std::to_string(ne.size()) + " dimensions, expected 1..4");
  const TypeInfo* info = type_info(type);
  if (!info)
    return Status(Errc::invalid_argument,
                  "tensor '" + name + "': unknown type " + std::to_string(static_cast<uint32_t>(type)));
  uint64_t rows = 1;
  for (size_t i = 0; i < ne.size(); ++i) {
    if (ne[i] < 0)
      return Status(Errc::invalid_argument,
                    "tensor '" + name + "': ne[" + std::to_string(i) + "] = " + std::to_string(ne[i]) + " is negative");
    if (i > 0 && __builtin_mul_overflow(rows, static_cast<uint64_t>(ne[i]), &rows))
      return Status(Errc::invalid_argument, "tensor '" + name + "': size overflows");
  }
  const std::optional<size_t> row = row_size(type, ne[0]);
  if (!row)
    return Status(Errc::invalid_argument, "tensor '" + name + "': ne[0] = " + std::to_string(ne[0]) +
                                              " is not a multiple of the " + std::string(info->name) + " block size " +
                                              std::to_string(info->block_size));
  uint64_t expected = 0;
  if (__builtin_mul_overflow(uint64_t{*row}, rows, &expected))
    return Status(Errc::invalid_argument, "tensor '" + name + "': size overflows");
  if (data.size() != expected)
    return Status(Errc::invalid_argument, "tensor '" + name + "': " + std::to_string(data.size()) +
                                              " bytes of data, expected " + std::to_string(expected) + " for " +
                                              std::string(info->name));
  tensors_.push_back(PendingTensor{std::move(name), type, ne, std::move(data)});
  return Status::Ok();
}

Status GgufWriter::build_header(uint32_t version, std::vector<uint8_t>& head, std::vector<uint64_t>& offsets) const {
  if (version != 2 && version != 3)
    return Status(Errc::invalid_argument, "cannot write GGUF version " + std::to_string(version) + " (2 or 3)");
  const uint64_t a = alignment_;
  if (a == 0 || (a & (a - 1)) != 0)
    return Status(Errc::invalid_argument, "alignment " + std::to_string(a) + " is not a non-zero power of two");
  for (const auto& kv : kv_) {
    if (kv.key.empty()) return Status(Errc::invalid_argument, "empty metadata key");
    ONDI_RETURN_IF_ERROR(check_value(kv.value, 0, kv.key));
    if (kv.key == kAlignmentKey && (kv.value.type != GgufValueType::UINT32 || kv.value.u64 != a))
      return Status(Errc::invalid_argument, "general.alignment must be the UINT32 set by set_alignment()");
  }

  head.clear();
  for (char c : std::string_view("GGUF")) head.push_back(static_cast<uint8_t>(c));
  put_u32(head, version);
  put_u64(head, tensors_.size());
  put_u64(head, kv_.size());
  for (const auto& kv : kv_) {
    put_str(head, kv.key);
    put_u32(head, static_cast<uint32_t>(kv.value.type));
    put_value(head, kv.value);
  }
  offsets.clear();
  uint64_t off = 0;
  for (const auto& t : tensors_) {
    off = (off + a - 1) / a * a;
    offsets.push_back(off);
    put_str(head, t.name);
    put_u32(head, static_cast<uint32_t>(t.ne.size()));
    for (int64_t n : t.ne) put_u64(head, static_cast<uint64_t>(n));
    put_u32(head, static_cast<uint32_t>(t.type));
    put_u64(head, off);
    off += t.data.size();
  }
  head.resize((head.size() + a - 1) / a * a, 0);
  return Status::Ok();
}

std::vector<uint8_t> GgufWriter::to_bytes(uint32_t version) const {
  try {
    std::vector<uint8_t> out;
    std::vector<uint64_t> offsets;
    if (!build_header(version, out, offsets).ok()) return {};
    const size_t data_start = out.size();
    for (size_t i = 0; i < tensors_.size(); ++i) {
      out.resize(data_start + offsets[i], 0);
      out.insert(out.end(), tensors_[i].data.begin(), tensors_[i].data.end());
    }
    return out;
  } catch (const std::bad_alloc&) {
    return {};
  } catch (const std::length_error&) {
    return {};
  }
}

Status GgufWriter::write(const std::string& path, uint32_t version) const {
  std::vector<uint8_t> head;
  std::vector<uint64_t> offsets;
  try {
    Status s = build_header(version, head, offsets);
    if (!s.ok()) return Status(s.code(), path + ": " + s.message());
  } catch (const std::bad_alloc&) {
    return Status(Errc::out_of_memory, path + ": out of memory building the GGUF header");
  } catch (const std::length_error&) {
    return Status(Errc::out_of_memory, path + ": out of memory building the GGUF header");
  }

  // A sibling of the target, so that rename() stays within one file system and is atomic.
  std::string tmp = path + ".tmp.XXXXXX";
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) return Status(Errc::io, path + ": cannot create a temporary file " + tmp + ": " + errno_text(errno));

  auto body = [&]() -> Status {
    ONDI_RETURN_IF_ERROR(write_all(fd, head.data(), head.size(), tmp));
    uint64_t pos = 0;  // within the data section
    for (size_t i = 0; i < tensors_.size(); ++i) {
      ONDI_RETURN_IF_ERROR(write_zeros(fd, static_cast<size_t>(offsets[i] - pos), tmp));
      ONDI_RETURN_IF_ERROR(write_all(fd, tensors_[i].data.data(), tensors_[i].data.size(), tmp));
      pos = offsets[i] + tensors_[i].data.size();
    }
    // mkstemp creates 0600; a model file is meant to be readable like any other output.
    if (::fchmod(fd, 0644) != 0) return Status(Errc::io, tmp + ": chmod failed: " + errno_text(errno));
    // Without this a crash soon after rename() could leave an empty file under the final name.
    if (::fsync(fd) != 0) return Status(Errc::io, tmp + ": fsync failed: " + errno_text(errno));
    return Status::Ok();
  };
  Status s = body();
  // close() can report a deferred write error (NFS, quota): it counts as a failed write.
  if (::close(fd) != 0 && s.ok()) s = Status(Errc::io, tmp + ": close failed: " + errno_text(errno));
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0)
    s = Status(Errc::io, path + ": cannot rename " + tmp + " into place: " + errno_text(errno));
  if (!s.ok()) ::unlink(tmp.c_str());
  return s;
}

}  // namespace ondi
