#pragma once
// PyTorch zip checkpoints (.ckpt/.pt/.pth): `<archive>/data.pkl` read by the restricted unpickler, tensor bytes
// from `<archive>/data/<key>`. The state dict is `state_dict` of a Lightning checkpoint, or the top-level dict.
#include "io/Pickle.h"
#include "io/WeightSource.h"

#include <map>

namespace ls::io {

class CkptFile : public WeightSource {
public:
    explicit CkptFile(const std::filesystem::path& path);
    ~CkptFile() override;

    std::string path() const override { return m_path.string(); }
    std::vector<std::string> keys() const override;
    bool contains(const std::string& key) const override { return m_tensors.count(key) != 0; }
    TensorInfo info(const std::string& key) const override;
    at::Tensor load(const std::string& key) const override;

private:
    std::string readEntry(const std::string& name, uint64_t expectedMax) const;
    std::filesystem::path m_path;
    std::string m_prefix; // "archive/"
    uint64_t m_fileSize = 0;
    std::map<std::string, pickle::TensorRef> m_tensors;
    struct Zip;
    std::unique_ptr<Zip> m_zip;
};

} // namespace ls::io
