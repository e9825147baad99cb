#include "core/mmap_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ondi {

Result<std::unique_ptr<MappedFile>> MappedFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status(Errc::io, path + ": cannot open: " + std::strerror(errno));
  auto r = open_fd(fd, 0, 0, path);
  ::close(fd);
  return r;
}

Result<std::unique_ptr<MappedFile>> MappedFile::open_fd(int fd, uint64_t offset, uint64_t length, std::string name) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return Status(Errc::io, name + ": cannot stat: " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return Status(Errc::io, name + ": not a regular file");
  const uint64_t fsize = static_cast<uint64_t>(st.st_size);
  if (offset > fsize)
    return Status(Errc::invalid_argument, name + ": offset " + std::to_string(offset) + " is past the end of the file");
  if (length == 0) length = fsize - offset;
  if (length > fsize - offset)
    return Status(Errc::invalid_argument, name + ": offset + length exceeds the file size " + std::to_string(fsize));
  std::unique_ptr<MappedFile> m(new MappedFile());
  m->name_ = std::move(name);
  if (length == 0) return m;  // empty: parsers report "too small"
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t aligned_off = offset - offset % page;
  const uint64_t delta = offset - aligned_off;
  m->map_len_ = static_cast<size_t>(length + delta);
  void* p = mmap(nullptr, m->map_len_, PROT_READ, MAP_PRIVATE, fd, static_cast<off_t>(aligned_off));
  if (p == MAP_FAILED) return Status(Errc::io, m->name_ + ": mmap failed: " + std::strerror(errno));
  m->base_ = p;
  m->data_ = static_cast<const uint8_t*>(p) + delta;
  m->size_ = static_cast<size_t>(length);
  return m;
}

void prefault(const void* p, size_t n) {
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // Linux 5.14 uapi value; older kernels answer EINVAL, which is fine
#endif
  if (n == 0) return;
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t b = reinterpret_cast<uintptr_t>(p) & ~(page - 1);
  const uintptr_t e = reinterpret_cast<uintptr_t>(p) + n;
  (void)madvise(reinterpret_cast<void*>(b), e - b, MADV_POPULATE_READ);
}

void release_pages(const void* p, size_t n) {
  const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t b = (reinterpret_cast<uintptr_t>(p) + page - 1) & ~(page - 1);
  const uintptr_t e = (reinterpret_cast<uintptr_t>(p) + n) & ~(page - 1);
  if (e > b) (void)madvise(reinterpret_cast<void*>(b), e - b, MADV_DONTNEED);
}

Result<std::unique_ptr<AnonMemory>> AnonMemory::allocate(size_t bytes, const std::string& what) {
  std::unique_ptr<AnonMemory> m(new AnonMemory());
  if (bytes == 0) return m;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return Status(Errc::out_of_memory,
                  what + ": cannot map " + std::to_string(bytes) + " bytes: " + std::strerror(errno));
  m->data_ = static_cast<uint8_t*>(p);
  m->size_ = bytes;
  return m;
}

AnonMemory::~AnonMemory() {
  if (data_) munmap(data_, size_);
}

MappedFile::~MappedFile() {
  if (base_) munmap(base_, map_len_);
}

}  // namespace ondi
