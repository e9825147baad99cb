// GGUF reader (v2, v3) over a memory-mapped file or a caller's buffer. Every byte is treated as hostile:
// every count, size and offset is checked for overflow and against the file size before it is used, and a
// malformed file yields a Status naming the file, the offset and what was expected.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "tensor/types.h"

namespace ondi {

enum class GgufValueType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};
std::string_view gguf_value_type_name(GgufValueType t);

// One metadata value. Scalars live in the scalar fields; arrays keep their element type and elements
// (arrays of arrays nest). Large arrays (vocabularies: 150k strings) are stored compactly by kind.
struct GgufValue {
  GgufValueType type = GgufValueType::UINT8;
  // scalars (integers widen to int64/uint64, floats to double)
  uint64_t u64 = 0;
  int64_t i64 = 0;
  double f64 = 0;
  bool b = false;
  std::string str;
  // arrays
  GgufValueType elem_type = GgufValueType::UINT8;
  std::vector<std::string> arr_str;   // STRING arrays
  std::vector<double> arr_num;        // numeric / BOOL arrays, each element widened (exact for <= 2^53)
  std::vector<int64_t> arr_int;       // integer / BOOL arrays, exact
  std::vector<GgufValue> arr_nested;  // ARRAY arrays
  // The reader fills arr_int and arr_num for integer/BOOL arrays, arr_num only for float arrays. UINT64
  // elements above INT64_MAX wrap in arr_int (check elem_type). The writer takes integer arrays from arr_int
  // when it is non-empty, else from arr_num.
  size_t array_size() const;

  bool is_integer() const;  // any integer scalar type
  bool is_float() const;
  bool is_array() const { return type == GgufValueType::ARRAY; }
  std::string to_string(size_t max_items = 8) const;  // for `ondi info`

  // Builders that fill the fields the way the reader does. `t` must be of the matching kind.
  static GgufValue make_uint(GgufValueType t, uint64_t v);  // UINT8..UINT64
  static GgufValue make_int(GgufValueType t, int64_t v);    // INT8..INT64
  static GgufValue make_float(GgufValueType t, double v);   // FLOAT32 / FLOAT64
  static GgufValue make_bool(bool v);
  static GgufValue make_str(std::string v);
  static GgufValue make_arr_str(std::vector<std::string> v);
  static GgufValue make_arr_int(GgufValueType elem, std::vector<int64_t> v);  // integer or BOOL elements
  static GgufValue make_arr_float(GgufValueType elem, std::vector<double> v);
  static GgufValue make_arr_nested(std::vector<GgufValue> v);  // each element an ARRAY value
};

// Arrays nest at most this deep (a plain array is depth 1); deeper files are rejected as malformed.
inline constexpr int kGgufMaxArrayDepth = 8;
inline constexpr uint32_t kGgufDefaultAlignment = 32;

struct GgufKV {
  std::string key;
  GgufValue value;
};

struct GgufTensorInfo {
  std::string name;
  uint32_t n_dims = 0;
  int64_t ne[4] = {1, 1, 1, 1};  // ne[0] is the contiguous (row) dimension, as in GGUF
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;   // relative to the start of the data section
  uint64_t n_bytes = 0;  // checked: fits in the file
  int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
};

class MappedFile;

class GgufFile {
 public:
  // Maps the file read-only; the GgufFile owns the mapping.
  static Result<std::unique_ptr<GgufFile>> open(const std::string& path);
  // Takes ownership of an existing mapping (e.g. a window of a file descriptor); errors use its name().
  static Result<std::unique_ptr<GgufFile>> from_mapping(std::unique_ptr<MappedFile> mapping);
  // Parses a caller-owned buffer that must outlive the GgufFile. `name` is used in error messages.
  static Result<std::unique_ptr<GgufFile>> from_memory(const void* data, size_t size, std::string name);
  ~GgufFile();

  const std::string& name() const { return name_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_offset_; }  // absolute offset of the tensor data section
  size_t file_size() const { return size_; }
  const uint8_t* file_data() const { return data_; }

  const std::vector<GgufKV>& metadata() const { return kv_; }
  const GgufValue* find(std::string_view key) const;

  // Typed getters: a missing key is Errc::format "missing key"; a key of the wrong type or out of range
  // for the requested type is Errc::format naming the key, its type and the expected one.
  Result<uint64_t> get_u64(std::string_view key) const;  // any non-negative integer
  Result<int64_t> get_i64(std::string_view key) const;   // any integer
  Result<uint32_t> get_u32(std::string_view key) const;  // any integer in [0, 2^32)
  Result<double> get_f64(std::string_view key) const;    // float or integer
  Result<float> get_f32(std::string_view key) const;
  Result<bool> get_bool(std::string_view key) const;
  Result<std::string> get_str(std::string_view key) const;
  Result<const GgufValue*> get_arr(std::string_view key) const;  // an ARRAY value (never null when ok)

  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  const GgufTensorInfo* find_tensor(std::string_view name) const;
  const uint8_t* tensor_data(const GgufTensorInfo& t) const { return data_ + data_offset_ + t.offset; }

 private:
  GgufFile() = default;
  Status parse();

  std::string name_;
  std::unique_ptr<MappedFile> mapping_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<GgufKV> kv_;
  std::vector<GgufTensorInfo> tensors_;
  std::vector<uint32_t> kv_index_;      // kv_ indices sorted by key, for find()
  std::vector<uint32_t> tensor_index_;  // tensors_ indices sorted by name, for find_tensor()
};

// Writer for tools and tests: collects metadata and tensors, writes GGUF v3 (or v2 on request).
class GgufWriter {
 public:
  void set(std::string key, GgufValue value);  // replaces an existing key, keeps first-insertion order
  void set_u32(std::string key, uint32_t v);
  void set_i32(std::string key, int32_t v);
  void set_u64(std::string key, uint64_t v);
  void set_f32(std::string key, float v);
  void set_bool(std::string key, bool v);
  void set_str(std::string key, std::string v);
  void set_arr_str(std::string key, std::vector<std::string> v);
  void set_arr_i32(std::string key, const std::vector<int32_t>& v);
  void set_arr_f32(std::string key, const std::vector<float>& v);
  // `data` holds the tensor already encoded in `type` (row_size(type, ne[0]) * rows bytes).
  Status add_tensor(std::string name, GgmlType type, const std::vector<int64_t>& ne, std::vector<uint8_t> data);
  // Also written as general.alignment when not 32. Must be a non-zero power of two (write() reports otherwise).
  void set_alignment(uint32_t a);
  // Writes to `path` atomically (temporary file in the same directory, renamed at the end).
  Status write(const std::string& path, uint32_t version = 3) const;
  // The whole file in memory; empty if the writer holds something unwritable (write() says what).
  std::vector<uint8_t> to_bytes(uint32_t version = 3) const;

 private:
  struct PendingTensor {
    std::string name;
    GgmlType type;
    std::vector<int64_t> ne;
    std::vector<uint8_t> data;
  };
  // Everything before the first tensor's data (header, metadata, tensor infos, padding) and each tensor's
  // offset in the data section.
  Status build_header(uint32_t version, std::vector<uint8_t>& head, std::vector<uint64_t>& offsets) const;

  std::vector<GgufKV> kv_;
  std::vector<PendingTensor> tensors_;
  uint32_t alignment_ = 32;
};

}  // namespace ondi
