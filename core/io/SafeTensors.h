#pragma once
// safetensors: an 8-byte little-endian header length, a JSON header, then raw little-endian data.
// The reader memory-maps the file and validates the whole header before any tensor data is touched.
#include "io/WeightSource.h"

#include <map>
#include <string>
#include <utility>

namespace ls::io {

class MappedFile;

class SafeTensorsFile : public WeightSource {
public:
    explicit SafeTensorsFile(const std::filesystem::path& path);
    ~SafeTensorsFile() override;

    std::string path() const override { return m_path.string(); }
    std::vector<std::string> keys() const override;
    bool contains(const std::string& key) const override { return m_entries.count(key) != 0; }
    TensorInfo info(const std::string& key) const override;
    at::Tensor load(const std::string& key) const override;
    void release(const std::string& key) const override;

    const std::map<std::string, std::string>& metadata() const { return m_metadata; }
    uint64_t dataOffset() const { return m_dataOffset; } // where the tensor bytes start: 8 + the header's length

    static constexpr uint64_t kMaxHeaderBytes = 100ull << 20;

private:
    struct Entry {
        TensorInfo info;
        uint64_t begin = 0;
        uint64_t end = 0;
    };
    std::filesystem::path m_path;
    std::shared_ptr<MappedFile> m_file;
    uint64_t m_dataOffset = 0;
    std::map<std::string, Entry> m_entries;
    std::map<std::string, std::string> m_metadata;
};

// safetensors dtype names <-> torch.
at::ScalarType safetensorsDtype(const std::string& name, bool* ok);
std::string safetensorsDtypeName(at::ScalarType type);

// Writes atomically (temporary file, fsync, rename). Tensors are made contiguous CPU.
void writeSafeTensors(const std::filesystem::path& path, const std::vector<std::pair<std::string, at::Tensor>>& tensors,
    const std::map<std::string, std::string>& metadata = {});

// Atomic write of raw bytes: temporary file in the same folder, fsync, rename.
void writeFileAtomic(const std::filesystem::path& path, const std::string& bytes);

} // namespace ls::io
