#include "io/SafeTensors.h"

#include "io/MappedFile.h"
#include "util/Error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ls::io {

namespace fs = std::filesystem;
using nlohmann::json;

// ---------------------------------------------------------------- MappedFile

MappedFile::MappedFile(const fs::path& path)
{
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        fail(ErrorKind::Io, path.string() + ": cannot open: " + std::strerror(errno));
    struct stat st { };
    if (::fstat(fd, &st) != 0) {
        int e = errno;
        ::close(fd);
        fail(ErrorKind::Io, path.string() + ": cannot stat: " + std::strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        ::close(fd);
        fail(ErrorKind::Io, path.string() + ": is a directory, not a file");
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        fail(ErrorKind::Io, path.string() + ": is not a regular file");
    }
    m_size = static_cast<uint64_t>(st.st_size);
    if (m_size == 0) {
        ::close(fd);
        return;
    }
    void* p = ::mmap(nullptr, m_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    ::close(fd);
    if (p == MAP_FAILED)
        fail(ErrorKind::Io, path.string() + ": cannot map into memory: " + std::strerror(e));
    m_data = static_cast<const uint8_t*>(p);
}

void MappedFile::release(uint64_t offset, uint64_t length) const
{
    static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    const uint64_t begin = (offset + page - 1) / page * page, end = std::min(offset + length, m_size) / page * page;
    if (m_data && end > begin)
        ::madvise(const_cast<uint8_t*>(m_data) + begin, end - begin, MADV_DONTNEED);
}

MappedFile::~MappedFile()
{
    if (m_data)
        ::munmap(const_cast<uint8_t*>(m_data), m_size);
}

// ---------------------------------------------------------------- helpers

int64_t TensorInfo::numel() const
{
    int64_t n = 1;
    for (int64_t d : shape)
        n *= d;
    return n;
}

std::string shapeToString(const std::vector<int64_t>& shape)
{
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i)
        s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

at::ScalarType safetensorsDtype(const std::string& name, bool* ok)
{
    static const std::pair<const char*, at::ScalarType> table[] = {
        { "F64", at::kDouble },
        { "F32", at::kFloat },
        { "F16", at::kHalf },
        { "BF16", at::kBFloat16 },
        { "I64", at::kLong },
        { "I32", at::kInt },
        { "I16", at::kShort },
        { "I8", at::kChar },
        { "U8", at::kByte },
        { "BOOL", at::kBool },
    };
    for (const auto& [n, t] : table) {
        if (name == n) {
            *ok = true;
            return t;
        }
    }
    *ok = false;
    return at::kFloat;
}

std::string safetensorsDtypeName(at::ScalarType type)
{
    switch (type) {
    case at::kDouble:
        return "F64";
    case at::kFloat:
        return "F32";
    case at::kHalf:
        return "F16";
    case at::kBFloat16:
        return "BF16";
    case at::kLong:
        return "I64";
    case at::kInt:
        return "I32";
    case at::kShort:
        return "I16";
    case at::kChar:
        return "I8";
    case at::kByte:
        return "U8";
    case at::kBool:
        return "BOOL";
    default:
        fail(ErrorKind::Unsupported, std::string("dtype ") + c10::toString(type) + " cannot be stored in safetensors");
    }
}

// ---------------------------------------------------------------- reader

SafeTensorsFile::SafeTensorsFile(const fs::path& path)
    : m_path(path)
{
    const std::string name = path.string();
    m_file = std::make_shared<MappedFile>(path);
    const uint64_t size = m_file->size();
    if (size == 0)
        fail(ErrorKind::Format, name + ": file is empty (0 bytes), not a safetensors file");
    if (size < 8)
        fail(ErrorKind::Format,
            name + ": file is truncated (" + std::to_string(size) + " bytes, a safetensors header needs at least 8)");
    uint64_t headerLen = 0;
    std::memcpy(&headerLen, m_file->data(), 8); // little-endian hosts only (x86-64, aarch64)
    if (headerLen > kMaxHeaderBytes)
        fail(ErrorKind::Format,
            name + ": header length " + std::to_string(headerLen)
                + " bytes exceeds the 100 MiB limit (not a safetensors file?)");
    if (headerLen > size - 8)
        fail(ErrorKind::Format,
            name + ": header claims " + std::to_string(headerLen) + " bytes but the file has only "
                + std::to_string(size - 8) + " after the length field (truncated?)");
    m_dataOffset = 8 + headerLen;
    const uint64_t dataSize = size - m_dataOffset;

    json header;
    try {
        header = json::parse(reinterpret_cast<const char*>(m_file->data() + 8),
            reinterpret_cast<const char*>(m_file->data() + 8 + headerLen));
    } catch (const json::exception& e) {
        fail(ErrorKind::Format, name + ": header is not valid JSON: " + e.what());
    }
    if (!header.is_object())
        fail(ErrorKind::Format, name + ": header is not a JSON object");

    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    std::vector<const std::string*> rangeKeys;
    for (auto it = header.begin(); it != header.end(); ++it) {
        const std::string& key = it.key();
        const json& v = it.value();
        if (key == "__metadata__") {
            if (!v.is_object())
                fail(ErrorKind::Format, name + ": __metadata__ is not an object");
            for (auto m = v.begin(); m != v.end(); ++m) {
                if (!m.value().is_string())
                    fail(ErrorKind::Format, name + ": __metadata__." + m.key() + " is not a string");
                m_metadata[m.key()] = m.value().get<std::string>();
            }
            continue;
        }
        const std::string where = name + ": tensor '" + key + "'";
        if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
            fail(ErrorKind::Format, where + ": entry needs dtype, shape and data_offsets");
        if (!v["dtype"].is_string())
            fail(ErrorKind::Format, where + ": dtype is not a string");
        Entry e;
        bool ok = false;
        const std::string dt = v["dtype"].get<std::string>();
        e.info.dtype = safetensorsDtype(dt, &ok);
        if (!ok)
            fail(ErrorKind::Unsupported,
                where + ": unknown or unsupported dtype '" + dt
                    + "' (supported: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)");
        const json& shape = v["shape"];
        if (!shape.is_array() || shape.size() > 16)
            fail(ErrorKind::Format, where + ": shape is not an array of at most 16 dimensions");
        unsigned __int128 numel = 1;
        for (const json& d : shape) {
            if (!d.is_number_integer() || d.get<int64_t>() < 0)
                fail(ErrorKind::Format, where + ": shape holds a negative or non-integer dimension");
            e.info.shape.push_back(d.get<int64_t>());
            numel *= static_cast<uint64_t>(d.get<int64_t>());
            if (numel > (static_cast<unsigned __int128>(1) << 62))
                fail(ErrorKind::Format, where + ": shape " + shape.dump() + " is absurdly large");
        }
        const json& off = v["data_offsets"];
        if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
            fail(ErrorKind::Format, where + ": data_offsets must be two non-negative integers");
        e.begin = off[0].get<uint64_t>();
        e.end = off[1].get<uint64_t>();
        if (e.begin > e.end)
            fail(ErrorKind::Format,
                where + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end)
                    + "] run backwards");
        if (e.end > dataSize)
            fail(ErrorKind::Format,
                where + ": data_offsets end " + std::to_string(e.end) + " lies beyond the " + std::to_string(dataSize)
                    + " data bytes in the file (truncated file or lying header)");
        const unsigned __int128 expected = numel * static_cast<uint64_t>(c10::elementSize(e.info.dtype));
        if (expected != e.end - e.begin)
            fail(ErrorKind::Format,
                where + ": shape " + shapeToString(e.info.shape) + " of " + dt + " needs "
                    + std::to_string(static_cast<uint64_t>(expected)) + " bytes but data_offsets span "
                    + std::to_string(e.end - e.begin));
        auto [pos, inserted] = m_entries.emplace(key, std::move(e));
        (void)inserted;
        ranges.emplace_back(pos->second.begin, pos->second.end);
        rangeKeys.push_back(&pos->first);
    }
    std::vector<size_t> order(ranges.size());
    for (size_t i = 0; i < order.size(); ++i)
        order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ranges[a] < ranges[b]; });
    for (size_t i = 1; i < order.size(); ++i) {
        const auto& prev = ranges[order[i - 1]];
        const auto& cur = ranges[order[i]];
        if (cur.first < prev.second && cur.first != cur.second && prev.first != prev.second)
            fail(ErrorKind::Format,
                name + ": tensors '" + *rangeKeys[order[i - 1]] + "' and '" + *rangeKeys[order[i]]
                    + "' overlap in the data section");
    }
}

SafeTensorsFile::~SafeTensorsFile() = default;

std::vector<std::string> SafeTensorsFile::keys() const
{
    std::vector<std::string> k;
    k.reserve(m_entries.size());
    for (const auto& [key, e] : m_entries)
        k.push_back(key);
    return k;
}

TensorInfo SafeTensorsFile::info(const std::string& key) const
{
    auto it = m_entries.find(key);
    if (it == m_entries.end())
        fail(ErrorKind::Mismatch, path() + ": no tensor named '" + key + "'");
    return it->second.info;
}

at::Tensor SafeTensorsFile::load(const std::string& key) const
{
    auto it = m_entries.find(key);
    if (it == m_entries.end())
        fail(ErrorKind::Mismatch, path() + ": no tensor named '" + key + "'");
    const Entry& e = it->second;
    auto keep = m_file;
    void* ptr = const_cast<uint8_t*>(m_file->data() + m_dataOffset + e.begin);
    if (e.end == e.begin)
        return at::empty(e.info.shape, at::TensorOptions().dtype(e.info.dtype));
    // Unaligned data is copied once so kernels can assume natural alignment.
    if (reinterpret_cast<uintptr_t>(ptr) % c10::elementSize(e.info.dtype) != 0) {
        at::Tensor t = at::empty(e.info.shape, at::TensorOptions().dtype(e.info.dtype));
        std::memcpy(t.data_ptr(), ptr, e.end - e.begin);
        return t;
    }
    return at::from_blob(
        ptr, e.info.shape, [keep](void*) {}, at::TensorOptions().dtype(e.info.dtype));
}

void SafeTensorsFile::release(const std::string& key) const
{
    auto it = m_entries.find(key);
    if (it != m_entries.end())
        m_file->release(m_dataOffset + it->second.begin, it->second.end - it->second.begin);
}

// ---------------------------------------------------------------- writer

void writeFileAtomic(const fs::path& path, const std::string& bytes)
{
    const fs::path tmp = path.string() + ".tmp-" + std::to_string(::getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        fail(ErrorKind::Io, tmp.string() + ": cannot create: " + std::strerror(errno));
    size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            fail(ErrorKind::Io, tmp.string() + ": write failed: " + std::strerror(e));
        }
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        fail(ErrorKind::Io, tmp.string() + ": fsync/close failed: " + std::strerror(e));
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        fail(ErrorKind::Io, path.string() + ": cannot rename into place: " + std::strerror(e));
    }
    const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

void writeSafeTensors(const fs::path& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
    const std::map<std::string, std::string>& metadata)
{
    json header = json::object();
    if (!metadata.empty())
        header["__metadata__"] = metadata;
    std::vector<at::Tensor> data;
    uint64_t offset = 0;
    for (const auto& [key, t0] : tensors) {
        at::Tensor t = t0.detach().to(at::kCPU).contiguous();
        const uint64_t bytes = static_cast<uint64_t>(t.numel()) * t.element_size();
        header[key] = { { "dtype", safetensorsDtypeName(t.scalar_type()) }, { "shape", t.sizes().vec() },
            { "data_offsets", { offset, offset + bytes } } };
        offset += bytes;
        data.push_back(t);
    }
    std::string h = header.dump();
    while ((8 + h.size()) % 8 != 0)
        h.push_back(' '); // keep the data section 8-byte aligned
    std::string out;
    out.reserve(8 + h.size() + offset);
    uint64_t n = h.size();
    out.append(reinterpret_cast<const char*>(&n), 8);
    out += h;
    for (const at::Tensor& t : data)
        out.append(static_cast<const char*>(t.data_ptr()), static_cast<size_t>(t.numel()) * t.element_size());
    writeFileAtomic(path, out);
}

} // namespace ls::io
