#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>

namespace ls::io {

// A whole file mapped read-only; checks that the path is a readable regular file.
class MappedFile {
public:
    explicit MappedFile(const std::filesystem::path& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const uint8_t* data() const { return m_data; }
    uint64_t size() const { return m_size; }
    // Drops the whole pages inside [offset, offset + length) from memory (MADV_DONTNEED; read again on access).
    void release(uint64_t offset, uint64_t length) const;

private:
    const uint8_t* m_data = nullptr;
    uint64_t m_size = 0;
};

} // namespace ls::io
