// Read-only memory mapping of a whole file (or of a [offset, offset+length) window of a descriptor).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

namespace ondi {

// Maps the pages of [p, p + n) (any readable memory, typically a file mapping whose pages are in the page cache) into
// this process in one system call per range, so that the first forward pass does not take a page fault per 4 KiB
// page of weights (measured: ~100 ms of a 1B model's first token). Best effort: on kernels without
// MADV_POPULATE_READ (before Linux 5.14) or under memory pressure it does nothing and pages fault in on use.
void prefault(const void* p, size_t n);

// Drops this process's mapping of the whole pages inside [p, p + n) of a read-only file mapping (MADV_DONTNEED): they
// leave the resident set (the page cache keeps them) and a later read maps them again. For weights the process has
// copied elsewhere. Best effort, like prefault.
void release_pages(const void* p, size_t n);

// Zero-filled private anonymous memory, freed on destruction. Not advised into transparent huge pages: faulting them
// in can stall on memory compaction (a 1B model's copies took 120-650 ms in one go, the slow end compacting), and
// decode read 4 KiB pages as fast (1B Q4_0: 40.2-40.9 against 40.0-41.2 tok/s).
class AnonMemory {
 public:
  static Result<std::unique_ptr<AnonMemory>> allocate(size_t bytes, const std::string& what);
  ~AnonMemory();
  AnonMemory(const AnonMemory&) = delete;
  AnonMemory& operator=(const AnonMemory&) = delete;
  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  AnonMemory() = default;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

class MappedFile {
 public:
  static Result<std::unique_ptr<MappedFile>> open(const std::string& path);
  // Maps `length` bytes of `fd` from `offset` (0 = to the end of the file). The fd may be closed afterwards.
  static Result<std::unique_ptr<MappedFile>> open_fd(int fd, uint64_t offset, uint64_t length, std::string name);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& name() const { return name_; }

 private:
  MappedFile() = default;
  void* base_ = nullptr;  // what mmap returned (page-aligned)
  size_t map_len_ = 0;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string name_;
};

}  // namespace ondi
