// Writer -> reader round trips: every value type, nested arrays, alignments, versions, files on disk, getters
// and the `ondi info` rendering.
#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/mmap_file.h"
#include "gguf/gguf.h"
#include "gtest/gtest.h"

namespace ondi {
namespace {

using VT = GgufValueType;

std::unique_ptr<GgufFile> parse(const std::vector<uint8_t>& bytes, const char* name = "mem.gguf") {
  auto r = GgufFile::from_memory(bytes.data(), bytes.size(), name);
  EXPECT_TRUE(r.ok()) << r.status().message();
  if (!r.ok()) return nullptr;
  return std::move(r).value();
}

// The file borrows the buffer: parsing a temporary would leave it dangling.
std::unique_ptr<GgufFile> parse(std::vector<uint8_t>&&, const char* = nullptr) = delete;

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

// A scratch directory removed with everything in it at the end of the test.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/ondi_gguf_test_XXXXXX";
    const char* p = mkdtemp(tmpl);
    EXPECT_NE(p, nullptr);
    path_ = p ? p : "/tmp";
  }
  ~TempDir() {
    for (const auto& f : files()) unlink((path_ + "/" + f).c_str());
    rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    if (DIR* d = opendir(path_.c_str())) {
      while (dirent* e = readdir(d))
        if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) out.push_back(e->d_name);
      closedir(d);
    }
    return out;
  }

 private:
  std::string path_;
};

TEST(GgufRoundTrip, EveryScalarType) {
  GgufWriter w;
  w.set("u8", GgufValue::make_uint(VT::UINT8, 255));
  w.set("i8", GgufValue::make_int(VT::INT8, -128));
  w.set("u16", GgufValue::make_uint(VT::UINT16, 65535));
  w.set("i16", GgufValue::make_int(VT::INT16, -32768));
  w.set_u32("u32", 4294967295u);
  w.set_i32("i32", std::numeric_limits<int32_t>::min());
  w.set_u64("u64", std::numeric_limits<uint64_t>::max());
  w.set("i64", GgufValue::make_int(VT::INT64, std::numeric_limits<int64_t>::min()));
  w.set_f32("f32", 1e-5f);
  w.set("f64", GgufValue::make_float(VT::FLOAT64, 0.1));
  w.set_bool("t", true);
  w.set_bool("f", false);
  w.set_str("s", std::string("h\xC3\xA9llo\0nul", 11));
  w.set_str("empty", "");
  const auto bytes = w.to_bytes();
  auto f = parse(bytes);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->version(), 3u);
  ASSERT_EQ(f->metadata().size(), 14u);
  EXPECT_EQ(f->find("u8")->type, VT::UINT8);
  EXPECT_EQ(f->find("u8")->u64, 255u);
  EXPECT_EQ(f->find("i8")->i64, -128);
  EXPECT_EQ(f->find("u16")->u64, 65535u);
  EXPECT_EQ(f->find("i16")->i64, -32768);
  EXPECT_EQ(f->find("u32")->u64, 4294967295u);
  EXPECT_EQ(f->find("i32")->i64, std::numeric_limits<int32_t>::min());
  EXPECT_EQ(f->find("u64")->u64, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(f->find("i64")->i64, std::numeric_limits<int64_t>::min());
  EXPECT_EQ(f->find("f32")->type, VT::FLOAT32);
  EXPECT_EQ(static_cast<float>(f->find("f32")->f64), 1e-5f);
  EXPECT_EQ(f->find("f64")->f64, 0.1);
  EXPECT_TRUE(f->find("t")->b);
  EXPECT_FALSE(f->find("f")->b);
  EXPECT_EQ(f->find("s")->str, std::string("h\xC3\xA9llo\0nul", 11));
  EXPECT_EQ(f->find("empty")->str, "");
  EXPECT_EQ(f->find("nope"), nullptr);
  for (const auto& kv : f->metadata()) {
    const GgufValue* v = f->find(kv.key);
    ASSERT_NE(v, nullptr) << kv.key;
    EXPECT_EQ(v->type, kv.value.type);
  }
}

TEST(GgufRoundTrip, EveryArrayType) {
  GgufWriter w;
  w.set("a_u8", GgufValue::make_arr_int(VT::UINT8, {0, 1, 255}));
  w.set("a_i8", GgufValue::make_arr_int(VT::INT8, {-128, 0, 127}));
  w.set("a_u16", GgufValue::make_arr_int(VT::UINT16, {0, 65535}));
  w.set("a_i16", GgufValue::make_arr_int(VT::INT16, {-32768, 32767}));
  w.set("a_u32", GgufValue::make_arr_int(VT::UINT32, {0, 4294967295ll}));
  w.set_arr_i32("a_i32", {std::numeric_limits<int32_t>::min(), -1, 0, 7});
  w.set("a_u64", GgufValue::make_arr_int(VT::UINT64, {0, -1}));  // -1: the bit pattern of 2^64-1
  w.set("a_i64", GgufValue::make_arr_int(VT::INT64, {std::numeric_limits<int64_t>::min(), 5}));
  w.set_arr_f32("a_f32", {1.5f, -0.25f, 3e38f});
  w.set("a_f64", GgufValue::make_arr_float(VT::FLOAT64, {0.1, -1e300}));
  w.set("a_bool", GgufValue::make_arr_int(VT::BOOL, {1, 0, 1}));
  w.set_arr_str("a_str", {"", "a", std::string(300, 'x'), "\xE2\x96\x81the"});
  w.set("a_empty", GgufValue::make_arr_int(VT::INT32, {}));
  w.set("a_empty_str", GgufValue::make_arr_str({}));
  // Integer arrays given through arr_num only are written from it.
  GgufValue from_num;
  from_num.type = VT::ARRAY;
  from_num.elem_type = VT::INT16;
  from_num.arr_num = {-3, 4};
  w.set("a_from_num", from_num);
  const auto bytes = w.to_bytes();
  auto f = parse(bytes);
  ASSERT_TRUE(f);
  auto ints = [&](const char* k) { return f->find(k)->arr_int; };
  EXPECT_EQ(ints("a_u8"), (std::vector<int64_t>{0, 1, 255}));
  EXPECT_EQ(ints("a_i8"), (std::vector<int64_t>{-128, 0, 127}));
  EXPECT_EQ(ints("a_u16"), (std::vector<int64_t>{0, 65535}));
  EXPECT_EQ(ints("a_i16"), (std::vector<int64_t>{-32768, 32767}));
  EXPECT_EQ(ints("a_u32"), (std::vector<int64_t>{0, 4294967295ll}));
  EXPECT_EQ(ints("a_i32"), (std::vector<int64_t>{std::numeric_limits<int32_t>::min(), -1, 0, 7}));
  EXPECT_EQ(static_cast<uint64_t>(ints("a_u64")[1]), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(f->find("a_u64")->arr_num[1], 18446744073709551615.0);
  EXPECT_EQ(ints("a_i64"), (std::vector<int64_t>{std::numeric_limits<int64_t>::min(), 5}));
  EXPECT_EQ(ints("a_bool"), (std::vector<int64_t>{1, 0, 1}));
  EXPECT_EQ(ints("a_from_num"), (std::vector<int64_t>{-3, 4}));
  EXPECT_EQ(f->find("a_i32")->arr_num, (std::vector<double>{std::numeric_limits<int32_t>::min(), -1, 0, 7}));
  EXPECT_EQ(f->find("a_f32")->arr_num, (std::vector<double>{1.5, -0.25, static_cast<double>(3e38f)}));
  EXPECT_TRUE(f->find("a_f32")->arr_int.empty());
  EXPECT_EQ(f->find("a_f64")->arr_num, (std::vector<double>{0.1, -1e300}));
  EXPECT_EQ(f->find("a_str")->arr_str, (std::vector<std::string>{"", "a", std::string(300, 'x'), "\xE2\x96\x81the"}));
  EXPECT_EQ(f->find("a_empty")->array_size(), 0u);
  EXPECT_EQ(f->find("a_empty")->elem_type, VT::INT32);
  EXPECT_EQ(f->find("a_empty_str")->elem_type, VT::STRING);
  for (const char* k : {"a_u8", "a_i8", "a_u16", "a_i16", "a_u32", "a_u64", "a_i64", "a_f64", "a_bool"})
    EXPECT_EQ(f->find(k)->type, VT::ARRAY) << k;
  EXPECT_EQ(f->find("a_str")->array_size(), 4u);
  EXPECT_EQ(f->find("a_bool")->elem_type, VT::BOOL);
}

TEST(GgufRoundTrip, NestedArrays) {
  GgufWriter w;
  w.set("n2", GgufValue::make_arr_nested({GgufValue::make_arr_int(VT::INT32, {1, 2}),
                                          GgufValue::make_arr_str({"x", "yz"}), GgufValue::make_arr_int(VT::UINT8, {}),
                                          GgufValue::make_arr_float(VT::FLOAT64, {2.5})}));
  // As deep as readers accept: kGgufMaxArrayDepth levels.
  GgufValue deep = GgufValue::make_arr_int(VT::UINT16, {42});
  for (int i = 1; i < kGgufMaxArrayDepth; ++i) deep = GgufValue::make_arr_nested({deep, GgufValue::make_arr_str({})});
  w.set("deep", deep);
  const auto bytes = w.to_bytes();
  auto f = parse(bytes);
  ASSERT_TRUE(f);
  const GgufValue* n2 = f->find("n2");
  ASSERT_EQ(n2->elem_type, VT::ARRAY);
  ASSERT_EQ(n2->array_size(), 4u);
  EXPECT_EQ(n2->arr_nested[0].arr_int, (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(n2->arr_nested[1].arr_str, (std::vector<std::string>{"x", "yz"}));
  EXPECT_EQ(n2->arr_nested[2].elem_type, VT::UINT8);
  EXPECT_EQ(n2->arr_nested[2].array_size(), 0u);
  EXPECT_EQ(n2->arr_nested[3].arr_num, (std::vector<double>{2.5}));
  EXPECT_EQ(n2->to_string(), "[[1, 2], [\"x\", \"yz\"], [], [2.5]]");
  const GgufValue* v = f->find("deep");
  for (int i = 1; i < kGgufMaxArrayDepth; ++i) {
    ASSERT_EQ(v->elem_type, VT::ARRAY);
    ASSERT_EQ(v->array_size(), 2u);
    v = &v->arr_nested[0];
  }
  EXPECT_EQ(v->arr_int, (std::vector<int64_t>{42}));

  // One level deeper is refused by the writer, as the reader would refuse it.
  GgufWriter w2;
  w2.set("too_deep", GgufValue::make_arr_nested({deep}));
  EXPECT_TRUE(w2.to_bytes().empty());
  const Status s = w2.write("/tmp/ondi_never_written.gguf");
  EXPECT_EQ(s.code(), Errc::invalid_argument);
  EXPECT_NE(s.message().find("too_deep"), std::string::npos) << s.message();
}

void add_test_tensors(GgufWriter& w) {
  ASSERT_TRUE(w.add_tensor("a", GgmlType::F32, {1}, pattern(4, 1)).ok());
  ASSERT_TRUE(w.add_tensor("b.q8", GgmlType::Q8_0, {32, 3}, pattern(3 * 34, 2)).ok());
  ASSERT_TRUE(w.add_tensor("c.q4k", GgmlType::Q4_K, {256, 2, 1}, pattern(2 * 144, 3)).ok());
  ASSERT_TRUE(w.add_tensor("d.f16", GgmlType::F16, {3, 2, 2, 1}, pattern(24, 4)).ok());
  ASSERT_TRUE(w.add_tensor("e.empty", GgmlType::F32, {0, 5}, {}).ok());
}

void check_test_tensors(const GgufFile& f) {
  ASSERT_EQ(f.tensors().size(), 5u);
  const char* names[] = {"a", "b.q8", "c.q4k", "d.f16", "e.empty"};
  const GgmlType types[] = {GgmlType::F32, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::F16, GgmlType::F32};
  const size_t sizes[] = {4, 102, 288, 24, 0};
  const uint32_t dims[] = {1, 2, 3, 4, 2};
  for (size_t i = 0; i < 5; ++i) {
    const GgufTensorInfo& t = f.tensors()[i];
    EXPECT_EQ(t.name, names[i]);
    EXPECT_EQ(t.type, types[i]);
    EXPECT_EQ(t.n_bytes, sizes[i]);
    EXPECT_EQ(t.n_dims, dims[i]);
    EXPECT_EQ(t.offset % f.alignment(), 0u);
    EXPECT_EQ((f.data_offset() + t.offset) % f.alignment(), 0u);
    EXPECT_EQ(f.find_tensor(names[i]), &t);
    const auto want = pattern(sizes[i], static_cast<uint8_t>(i + 1));
    if (sizes[i]) {
      EXPECT_EQ(std::memcmp(f.tensor_data(t), want.data(), sizes[i]), 0) << names[i];
    }
  }
  EXPECT_EQ(f.tensors()[2].ne[0], 256);
  EXPECT_EQ(f.tensors()[2].ne[1], 2);
  EXPECT_EQ(f.tensors()[2].ne[3], 1);
  EXPECT_EQ(f.tensors()[3].n_elements(), 12);
  EXPECT_EQ(f.find_tensor("missing"), nullptr);
}

TEST(GgufRoundTrip, AlignmentVariants) {
  for (uint32_t a : {1u, 2u, 8u, 16u, 32u, 64u, 256u, 4096u}) {
    SCOPED_TRACE("alignment " + std::to_string(a));
    GgufWriter w;
    w.set_str("general.architecture", "llama");
    w.set_alignment(a);
    add_test_tensors(w);
    const auto bytes = w.to_bytes();
    auto f = parse(bytes);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->alignment(), a);
    EXPECT_EQ(f->data_offset() % a, 0u);
    // 32 is the default and is not written; any other value must be, or readers would use 32.
    EXPECT_EQ(f->find("general.alignment") != nullptr, a != 32);
    if (a != 32) {
      EXPECT_EQ(*f->get_u32("general.alignment"), a);
    }
    check_test_tensors(*f);
  }
}

TEST(GgufRoundTrip, PaddingIsZeros) {
  GgufWriter w;
  w.set_str("k", "v");
  w.set_alignment(64);
  add_test_tensors(w);
  const auto bytes = w.to_bytes();
  auto f = parse(bytes);
  ASSERT_TRUE(f);
  std::vector<bool> used(bytes.size(), false);
  for (const auto& t : f->tensors())
    for (size_t i = 0; i < t.n_bytes; ++i) used[f->data_offset() + t.offset + i] = true;
  for (size_t i = f->data_offset(); i < bytes.size(); ++i)
    if (!used[i]) {
      EXPECT_EQ(bytes[i], 0) << "byte " << i;
    }
  // The last tensor ends the file: no trailing padding.
  const auto& last = f->tensors().back();
  EXPECT_EQ(f->data_offset() + last.offset + last.n_bytes, bytes.size());
}

TEST(GgufRoundTrip, Versions2And3) {
  GgufWriter w;
  w.set_u32("x", 7);
  add_test_tensors(w);
  const auto v3 = w.to_bytes();
  const auto v2 = w.to_bytes(2);
  ASSERT_EQ(v2.size(), v3.size());
  EXPECT_EQ(v3[4], 3);
  EXPECT_EQ(v2[4], 2);
  for (size_t i = 0; i < v2.size(); ++i)
    if (i != 4) {
      ASSERT_EQ(v2[i], v3[i]) << "byte " << i;
    }
  auto f2 = parse(v2);
  ASSERT_TRUE(f2);
  EXPECT_EQ(f2->version(), 2u);
  check_test_tensors(*f2);
  EXPECT_TRUE(w.to_bytes(1).empty());
  EXPECT_TRUE(w.to_bytes(4).empty());
  EXPECT_EQ(w.write("/tmp/ondi_never_written.gguf", 1).code(), Errc::invalid_argument);
}

TEST(GgufRoundTrip, InsertionOrderAndReplacement) {
  GgufWriter w;
  w.set_str("zeta", "1");
  w.set_u32("alpha", 2);
  w.set_str("mid", "3");
  w.set_u32("alpha", 20);  // replaced in place
  w.set_alignment(64);     // appended as general.alignment
  const auto bytes = w.to_bytes();
  auto f = parse(bytes);
  ASSERT_TRUE(f);
  ASSERT_EQ(f->metadata().size(), 4u);
  EXPECT_EQ(f->metadata()[0].key, "zeta");
  EXPECT_EQ(f->metadata()[1].key, "alpha");
  EXPECT_EQ(f->metadata()[1].value.u64, 20u);
  EXPECT_EQ(f->metadata()[2].key, "mid");
  EXPECT_EQ(f->metadata()[3].key, "general.alignment");
  // Setting general.alignment directly changes the layout too.
  GgufWriter w2;
  w2.set_u32("general.alignment", 128);
  add_test_tensors(w2);
  const auto bytes2 = w2.to_bytes();
  auto f2 = parse(bytes2);
  ASSERT_TRUE(f2);
  EXPECT_EQ(f2->alignment(), 128u);
  check_test_tensors(*f2);
}

TEST(GgufRoundTrip, WriterRejectsBadInput) {
  GgufWriter w;
  EXPECT_EQ(w.add_tensor("", GgmlType::F32, {1}, pattern(4, 0)).code(), Errc::invalid_argument);
  EXPECT_EQ(w.add_tensor("t", GgmlType::F32, {}, {}).code(), Errc::invalid_argument);
  EXPECT_EQ(w.add_tensor("t", GgmlType::F32, {1, 1, 1, 1, 1}, pattern(4, 0)).code(), Errc::invalid_argument);
  EXPECT_EQ(w.add_tensor("t", GgmlType::F32, {-1}, {}).code(), Errc::invalid_argument);
  EXPECT_EQ(w.add_tensor("t", static_cast<GgmlType>(99), {1}, pattern(4, 0)).code(), Errc::invalid_argument);
  const Status block = w.add_tensor("t", GgmlType::Q4_0, {33}, pattern(18, 0));
  EXPECT_EQ(block.code(), Errc::invalid_argument);
  EXPECT_NE(block.message().find("block size 32"), std::string::npos) << block.message();
  const Status size = w.add_tensor("t", GgmlType::Q4_0, {64, 2}, pattern(18 * 4 - 1, 0));
  EXPECT_EQ(size.code(), Errc::invalid_argument);
  EXPECT_NE(size.message().find("expected 72"), std::string::npos) << size.message();
  EXPECT_EQ(w.add_tensor("t", GgmlType::F32, {int64_t{1} << 62, 8}, {}).code(), Errc::invalid_argument);
  ASSERT_TRUE(w.add_tensor("t", GgmlType::Q4_0, {64, 2}, pattern(72, 0)).ok());
  EXPECT_EQ(w.add_tensor("t", GgmlType::F32, {1}, pattern(4, 0)).code(), Errc::invalid_argument);  // duplicate
  w.set_alignment(48);
  EXPECT_TRUE(w.to_bytes().empty());
  EXPECT_EQ(w.write("/tmp/ondi_never_written.gguf").code(), Errc::invalid_argument);
  w.set_alignment(0);
  EXPECT_TRUE(w.to_bytes().empty());
  w.set_alignment(16);
  EXPECT_FALSE(w.to_bytes().empty());
  w.set("general.alignment", GgufValue::make_int(VT::INT32, 16));  // must stay UINT32
  EXPECT_TRUE(w.to_bytes().empty());
}

TEST(GgufRoundTrip, WriteAndOpenFile) {
  TempDir dir;
  GgufWriter w;
  w.set_str("general.architecture", "llama");
  w.set_arr_str("tokenizer.ggml.tokens", {"a", "b"});
  add_test_tensors(w);
  const std::string path = dir.path() + "/model.gguf";
  ASSERT_TRUE(w.write(path).ok());
  EXPECT_EQ(dir.files(), std::vector<std::string>{"model.gguf"});  // no temporary left behind
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  auto r = GgufFile::open(path);
  ASSERT_TRUE(r.ok()) << r.status().message();
  const auto& f = **r;
  EXPECT_EQ(f.name(), path);
  EXPECT_EQ(*f.get_str("general.architecture"), "llama");
  check_test_tensors(f);
  const auto bytes = w.to_bytes();
  ASSERT_EQ(f.file_size(), bytes.size());
  EXPECT_EQ(std::memcmp(f.file_data(), bytes.data(), bytes.size()), 0);
  // Overwriting replaces the file.
  GgufWriter w2;
  w2.set_u32("x", 1);
  ASSERT_TRUE(w2.write(path).ok());
  auto r2 = GgufFile::open(path);
  ASSERT_TRUE(r2.ok()) << r2.status().message();
  EXPECT_EQ((*r2)->tensors().size(), 0u);
  EXPECT_EQ((*r2)->file_size(), (*r2)->data_offset());
}

TEST(GgufRoundTrip, FromMappingOfAWindow) {
  // A GGUF embedded at an offset of a bigger file (a bundle), mapped through a window of the descriptor.
  TempDir dir;
  GgufWriter w;
  w.set_str("general.architecture", "llama");
  add_test_tensors(w);
  const auto bytes = w.to_bytes();
  const std::string path = dir.path() + "/bundle.bin";
  {
    FILE* fp = fopen(path.c_str(), "wb");
    ASSERT_NE(fp, nullptr);
    const std::vector<uint8_t> junk(100, 0xAB);
    ASSERT_EQ(fwrite(junk.data(), 1, junk.size(), fp), junk.size());
    ASSERT_EQ(fwrite(bytes.data(), 1, bytes.size(), fp), bytes.size());
    fclose(fp);
  }
  const int fd = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  auto map = MappedFile::open_fd(fd, 100, bytes.size(), "bundle.bin[100]");
  ::close(fd);
  ASSERT_TRUE(map.ok()) << map.status().message();
  auto f = GgufFile::from_mapping(std::move(map).value());
  ASSERT_TRUE(f.ok()) << f.status().message();
  EXPECT_EQ((*f)->name(), "bundle.bin[100]");
  check_test_tensors(**f);
  EXPECT_EQ(GgufFile::from_mapping(nullptr).status().code(), Errc::invalid_argument);
  // Errors name the mapping.
  const int fd2 = ::open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd2, 0);
  auto junk_map = MappedFile::open_fd(fd2, 0, 50, "junk");
  ::close(fd2);
  ASSERT_TRUE(junk_map.ok());
  auto bad = GgufFile::from_mapping(std::move(junk_map).value());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("junk: offset 0: bad magic", 0), 0u) << bad.status().message();
}

TEST(GgufRoundTrip, WriteErrors) {
  GgufWriter w;
  w.set_u32("x", 1);
  const Status s = w.write("/nonexistent_dir_ondi/sub/model.gguf");
  EXPECT_EQ(s.code(), Errc::io);
  EXPECT_NE(s.message().find("/nonexistent_dir_ondi/sub/model.gguf"), std::string::npos) << s.message();

  auto missing = GgufFile::open("/nonexistent_dir_ondi/model.gguf");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Errc::io);

  // The target is a directory: rename fails after the data was written; the temporary must go.
  TempDir dir;
  const std::string target = dir.path() + "/taken";
  ASSERT_EQ(mkdir(target.c_str(), 0755), 0);
  const Status r = w.write(target);
  EXPECT_EQ(r.code(), Errc::io) << r.message();
  EXPECT_EQ(dir.files(), std::vector<std::string>{"taken"});
  rmdir(target.c_str());
}

TEST(GgufRoundTrip, DiskFullRemovesTemporary) {
  // A file-size limit makes write() fail with EFBIG part-way, like a full disk. It runs in a child so the
  // limit cannot touch this process's own output files.
  TempDir dir;
  const std::string path = dir.path() + "/big.gguf";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);
    rlimit lim{8192, 8192};
    setrlimit(RLIMIT_FSIZE, &lim);
    GgufWriter w;
    w.set_u32("x", 1);
    if (!w.add_tensor("t", GgmlType::F32, {16384}, std::vector<uint8_t>(65536, 1)).ok()) _exit(3);
    const Status s = w.write(path);
    _exit(s.ok() ? 1 : (s.code() == Errc::io && s.message().find("big.gguf") != std::string::npos ? 0 : 2));
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(dir.files().empty());
}

TEST(GgufGetters, TypedAccess) {
  GgufWriter w;
  w.set("small", GgufValue::make_uint(VT::UINT8, 7));
  w.set("neg", GgufValue::make_int(VT::INT32, -1));
  w.set("pos_i64", GgufValue::make_int(VT::INT64, 5000000000));
  w.set_u64("huge", std::numeric_limits<uint64_t>::max());
  w.set_f32("eps", 1e-5f);
  w.set_bool("flag", true);
  w.set_str("name", "llama");
  w.set_arr_i32("arr", {1, 2});
  const auto bytes = w.to_bytes();
  auto f = parse(bytes, "g.gguf");
  ASSERT_TRUE(f);
  EXPECT_EQ(*f->get_u32("small"), 7u);
  EXPECT_EQ(*f->get_u64("small"), 7u);
  EXPECT_EQ(*f->get_i64("neg"), -1);
  EXPECT_EQ(*f->get_i64("pos_i64"), 5000000000);
  EXPECT_EQ(*f->get_u64("pos_i64"), 5000000000u);
  EXPECT_EQ(*f->get_u64("huge"), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(*f->get_f32("eps"), 1e-5f);
  EXPECT_EQ(*f->get_f64("small"), 7.0);
  EXPECT_EQ(*f->get_f64("neg"), -1.0);
  EXPECT_TRUE(*f->get_bool("flag"));
  EXPECT_EQ(*f->get_str("name"), "llama");
  ASSERT_TRUE(f->get_arr("arr").ok());
  EXPECT_EQ((*f->get_arr("arr"))->arr_int, (std::vector<int64_t>{1, 2}));

  auto expect_err = [](const auto& r, std::vector<std::string> parts) {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), Errc::format);
    for (const auto& p : parts) EXPECT_NE(r.status().message().find(p), std::string::npos) << r.status().message();
  };
  expect_err(f->get_u32("missing"), {"g.gguf", "missing key 'missing'"});
  expect_err(f->get_u32("neg"), {"'neg'", "INT32", "-1", "out of range"});
  expect_err(f->get_u64("neg"), {"'neg'", "INT32"});
  expect_err(f->get_u32("pos_i64"), {"'pos_i64'", "INT64", "out of range"});
  expect_err(f->get_i64("huge"), {"'huge'", "UINT64"});
  expect_err(f->get_u32("eps"), {"'eps'", "FLOAT32", "integer"});
  expect_err(f->get_f64("name"), {"'name'", "STRING", "number"});
  expect_err(f->get_bool("small"), {"'small'", "UINT8", "BOOL"});
  expect_err(f->get_str("small"), {"'small'", "UINT8", "STRING"});
  expect_err(f->get_str("arr"), {"'arr'", "ARRAY of INT32", "STRING"});
  expect_err(f->get_arr("name"), {"'name'", "STRING", "ARRAY"});
}

TEST(GgufValueText, ToString) {
  EXPECT_EQ(GgufValue::make_uint(VT::UINT32, 42).to_string(), "42");
  EXPECT_EQ(GgufValue::make_uint(VT::UINT64, std::numeric_limits<uint64_t>::max()).to_string(), "18446744073709551615");
  EXPECT_EQ(GgufValue::make_int(VT::INT8, -5).to_string(), "-5");
  EXPECT_EQ(GgufValue::make_float(VT::FLOAT32, 1e-5f).to_string(), "1e-05");
  EXPECT_EQ(GgufValue::make_float(VT::FLOAT32, 500000.0f).to_string(), "500000");
  EXPECT_EQ(GgufValue::make_float(VT::FLOAT64, 0.1).to_string(), "0.1");
  EXPECT_EQ(GgufValue::make_float(VT::FLOAT64, NAN).to_string(), "nan");
  EXPECT_EQ(GgufValue::make_bool(true).to_string(), "true");
  EXPECT_EQ(GgufValue::make_str("llama").to_string(), "\"llama\"");
  EXPECT_EQ(GgufValue::make_str("a\"b\\c\nd\x01").to_string(), "\"a\\\"b\\\\c\\nd\\x01\"");
  const std::string long_str = GgufValue::make_str(std::string(1000, 'x')).to_string();
  EXPECT_LT(long_str.size(), 140u);
  EXPECT_NE(long_str.find("(1000 bytes)"), std::string::npos) << long_str;
  // Truncation never splits a UTF-8 sequence.
  std::string utf8;
  for (int i = 0; i < 100; ++i) utf8 += "\xC3\xA9";
  const std::string t = GgufValue::make_str(utf8).to_string();
  EXPECT_EQ(t.substr(0, t.find("\"...")).size() % 2, 1u) << t;  // opening quote + whole 2-byte chars

  std::vector<int64_t> many(512);
  for (int i = 0; i < 512; ++i) many[i] = i + 1;
  EXPECT_EQ(GgufValue::make_arr_int(VT::INT32, many).to_string(3), "[1, 2, 3, ... (512 items)]");
  EXPECT_EQ(GgufValue::make_arr_int(VT::INT32, {1, 2}).to_string(), "[1, 2]");
  EXPECT_EQ(GgufValue::make_arr_int(VT::BOOL, {1, 0}).to_string(), "[true, false]");
  EXPECT_EQ(GgufValue::make_arr_float(VT::FLOAT32, {0.5, 1e-5f}).to_string(), "[0.5, 1e-05]");
  EXPECT_EQ(GgufValue::make_arr_str({"a", "b", "c"}).to_string(2), "[\"a\", \"b\", ... (3 items)]");
  EXPECT_EQ(GgufValue::make_arr_int(VT::UINT64, {-1}).to_string(), "[18446744073709551615]");
  EXPECT_EQ(GgufValue::make_arr_int(VT::INT32, {}).to_string(), "[]");
}

TEST(GgufRoundTrip, LargeVocabularyParsesFast) {
  // A real vocabulary: 150k strings plus scores and types. Parsing must stay well under a second.
  constexpr int kN = 150000;
  std::vector<std::string> tokens(kN);
  std::vector<float> scores(kN);
  std::vector<int32_t> types(kN);
  for (int i = 0; i < kN; ++i) {
    tokens[i] = "tok_" + std::to_string(i) + (i % 3 ? "" : "_with_a_longer_suffix");
    scores[i] = static_cast<float>(-i);
    types[i] = 1 + i % 6;
  }
  GgufWriter w;
  w.set_arr_str("tokenizer.ggml.tokens", tokens);
  w.set_arr_f32("tokenizer.ggml.scores", scores);
  w.set_arr_i32("tokenizer.ggml.token_type", types);
  const auto bytes = w.to_bytes();
  const auto t0 = std::chrono::steady_clock::now();
  auto f = parse(bytes);
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->find("tokenizer.ggml.tokens")->arr_str, tokens);
  EXPECT_EQ(f->find("tokenizer.ggml.scores")->arr_num[149999], -149999.0);
  EXPECT_EQ(f->find("tokenizer.ggml.token_type")->arr_int[7], 2);
  EXPECT_LT(ms, 500.0);
  RecordProperty("parse_ms", std::to_string(ms));
}

}  // namespace
}  // namespace ondi
