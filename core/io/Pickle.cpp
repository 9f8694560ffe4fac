#include "io/PickleMachine.h"

namespace ls::io::pickle::detail {

// What a tensor checkpoint (torch.save of a state dict, a Lightning checkpoint) legitimately references.
const std::set<std::string>& tensorGlobals()
{
    static const std::set<std::string> s = {
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_tensor_v3",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_parameter_with_state",
        "builtins.set",
        "__builtin__.set",
        "builtins.frozenset",
    };
    return s;
}

// Harmless objects found in Lightning / numpy metadata; they become opaque values and are never called.
const std::set<std::string>& opaqueGlobals()
{
    static const std::set<std::string> s = {
        "numpy.core.multiarray.scalar",
        "numpy.dtype",
        "_codecs.encode",
        "torch.Size",
        "torch.device",
        "pytorch_lightning.callbacks.model_checkpoint.ModelCheckpoint",
        "pytorch_lightning.callbacks.early_stopping.EarlyStopping",
        "argparse.Namespace",
    };
    return s;
}

const char* const kStorageTypes[]
    = { "Double", "Float", "Half", "BFloat16", "Long", "Int", "Short", "Char", "Byte", "Bool" };
const char* const kDTypes[] = { "float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8",
    "bool", "float", "half", "double", "long", "int" };

bool isStorageType(const std::string& module, const std::string& name)
{
    if (module != "torch")
        return false;
    for (const char* t : kStorageTypes)
        if (name == std::string(t) + "Storage")
            return true;
    return false;
}

bool isDType(const std::string& module, const std::string& name)
{
    if (module != "torch")
        return false;
    for (const char* t : kDTypes)
        if (name == t)
            return true;
    return false;
}

} // namespace ls::io::pickle::detail

namespace ls::io::pickle {

using namespace detail;

bool isAllowedGlobal(const std::string& module, const std::string& name)
{
    const std::string full = module + "." + name;
    return isStorageType(module, name) || isDType(module, name) || tensorGlobals().count(full)
        || opaqueGlobals().count(full);
}

Value unpickle(std::string_view data, const std::string& where, const Limits& limits)
{
    Machine m(data, where, limits);
    Value root = m.run();
    m.adopt(root, limits.maxNesting);
    return root;
}

} // namespace ls::io::pickle
