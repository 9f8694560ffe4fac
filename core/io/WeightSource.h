#pragma once
// A read-only map from checkpoint key to tensor, whatever the file format behind it.
#include <ATen/ATen.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ls::io {

struct TensorInfo {
    at::ScalarType dtype = at::kFloat;
    std::vector<int64_t> shape;
    int64_t numel() const;
};

class WeightSource {
public:
    virtual ~WeightSource() = default;
    // What to name in messages: the file or folder.
    virtual std::string path() const = 0;
    // Keys in a stable (sorted) order.
    virtual std::vector<std::string> keys() const = 0;
    virtual bool contains(const std::string& key) const = 0;
    virtual TensorInfo info(const std::string& key) const = 0;
    // A CPU tensor. It may alias read-only file memory: copy before writing to it.
    virtual at::Tensor load(const std::string& key) const = 0;
    // A hint that the key's data has been copied and will not be read again soon: file-backed sources drop its pages
    // from memory (they are read back from the file if it is), so loading never holds the file and the model at once.
    virtual void release(const std::string& key) const { (void)key; }
};

// Opens a .safetensors file, a .ckpt/.pt/.pth zip checkpoint, or a diffusers folder.
std::unique_ptr<WeightSource> openWeights(const std::filesystem::path& path);

// Several sources seen as one; a key is taken from the first source that has it (and that offers it: a part added with
// a prefix or a filter offers only the keys under that prefix or that pass the filter).
class MergedSource : public WeightSource {
public:
    void add(std::shared_ptr<WeightSource> source, std::string onlyPrefix = {});
    void add(std::shared_ptr<WeightSource> source, std::function<bool(const std::string&)> offers);
    std::string path() const override;
    std::vector<std::string> keys() const override;
    bool contains(const std::string& key) const override;
    TensorInfo info(const std::string& key) const override;
    at::Tensor load(const std::string& key) const override;
    void release(const std::string& key) const override;

private:
    const WeightSource* find(const std::string& key) const;
    struct Part {
        std::shared_ptr<WeightSource> source;
        std::function<bool(const std::string&)> offers; // empty: every key
    };
    std::vector<Part> m_parts;
};

std::string shapeToString(const std::vector<int64_t>& shape);

} // namespace ls::io
