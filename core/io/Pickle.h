#pragma once
// A restricted unpickler for PyTorch checkpoints. It interprets the pickle opcodes itself and never executes
// anything: globals are checked against an allow-list of what a tensor checkpoint needs (OrderedDict,
// torch._utils._rebuild_tensor_v2, storage types, ...) and anything else (os.system, builtins.eval, subprocess,
// importlib, ...) is refused with an error naming the global, at the moment it is read.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ls::io::pickle {

struct Object;
using Value = std::shared_ptr<Object>;

struct StorageRef {
    std::string dtype; // torch storage class name without "Storage": Float, Half, BFloat16, Long, ...
    std::string key; // entry name under data/
    int64_t numel = 0;
};

struct TensorRef {
    StorageRef storage;
    int64_t offset = 0;
    std::vector<int64_t> size;
    std::vector<int64_t> stride;
};

struct Object {
    enum class Type { None, Bool, Int, Float, Str, Bytes, Tuple, List, Dict, Global, Storage, Tensor, Opaque, DType };
    Type type = Type::None;
    bool b = false;
    int64_t i = 0;
    double f = 0;
    std::string s; // Str, Bytes, Global ("module.name"), DType name, Opaque description
    std::vector<Value> items; // Tuple, List
    std::vector<std::pair<Value, Value>> dict;
    StorageRef storage;
    TensorRef tensor;
};

struct Limits {
    size_t maxDepth = 10000; // stack + memo entries guard
    size_t maxItems = 50000000; // total objects created
    size_t maxNesting = 1000; // containers inside containers (checkpoints use fewer than 20)
};

// Parses a pickle stream. `where` names the file in messages.
Value unpickle(std::string_view data, const std::string& where, const Limits& limits = {});

// True for the globals the reader accepts (exposed for tests and docs).
bool isAllowedGlobal(const std::string& module, const std::string& name);

} // namespace ls::io::pickle
