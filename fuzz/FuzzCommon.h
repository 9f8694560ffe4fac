#pragma once
// Shared by the fuzz targets: bytes as an anonymous in-memory file (for readers that take a path), and the rule that
// a clean ls::Error / std::exception is the expected answer to bad input while anything else (a crash, a sanitizer
// report, a hang) is a bug.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>

#include <sys/mman.h>
#include <unistd.h>

namespace ls::fuzz {

// Path of an in-memory file holding the bytes (valid until destroyed).
class MemFile {
public:
    MemFile(const uint8_t* data, size_t size)
    {
        m_fd = ::memfd_create("fuzz", MFD_CLOEXEC);
        size_t done = 0;
        while (m_fd >= 0 && done < size) {
            const ssize_t n = ::write(m_fd, data + done, size - done);
            if (n <= 0)
                break;
            done += static_cast<size_t>(n);
        }
    }
    ~MemFile()
    {
        if (m_fd >= 0)
            ::close(m_fd);
    }
    MemFile(const MemFile&) = delete;
    MemFile& operator=(const MemFile&) = delete;
    bool ok() const { return m_fd >= 0; }
    std::string path() const { return "/proc/self/fd/" + std::to_string(m_fd); }

private:
    int m_fd = -1;
};

// A weight-file reader (SafeTensorsFile, CkptFile) on the bytes: open, then info and a full load of every tensor.
template <class Reader> int loadEveryTensor(const uint8_t* data, size_t size)
{
    MemFile f(data, size);
    if (!f.ok())
        return 0;
    try {
        Reader reader(f.path());
        for (const auto& k : reader.keys()) {
            (void)reader.info(k);
            (void)reader.load(k).sum();
        }
    } catch (const std::exception&) {
    }
    return 0;
}

} // namespace ls::fuzz
