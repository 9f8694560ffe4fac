#include "io/CkptFile.h"

#include "util/Error.h"

#ifdef LS_WITH_LIBZIP
#include <zip.h>
#endif

#include <cstring>
#include <mutex>

namespace ls::io {

namespace fs = std::filesystem;
using pickle::Object;

#ifdef LS_WITH_LIBZIP
struct CkptFile::Zip {
    zip_t* z = nullptr;
    std::mutex mutex;
    ~Zip()
    {
        if (z)
            zip_discard(z);
    }
};
#else
struct CkptFile::Zip {
    std::mutex mutex;
};
#endif

namespace {

at::ScalarType storageDtype(const std::string& name, const std::string& where)
{
    static const std::pair<const char*, at::ScalarType> table[] = {
        { "Double", at::kDouble },
        { "Float", at::kFloat },
        { "Half", at::kHalf },
        { "BFloat16", at::kBFloat16 },
        { "Long", at::kLong },
        { "Int", at::kInt },
        { "Short", at::kShort },
        { "Char", at::kChar },
        { "Byte", at::kByte },
        { "Bool", at::kBool },
        { "dtype:float64", at::kDouble },
        { "dtype:float32", at::kFloat },
        { "dtype:float", at::kFloat },
        { "dtype:float16", at::kHalf },
        { "dtype:half", at::kHalf },
        { "dtype:bfloat16", at::kBFloat16 },
        { "dtype:int64", at::kLong },
        { "dtype:long", at::kLong },
        { "dtype:int32", at::kInt },
        { "dtype:int", at::kInt },
        { "dtype:int16", at::kShort },
        { "dtype:int8", at::kChar },
        { "dtype:uint8", at::kByte },
        { "dtype:bool", at::kBool },
    };
    for (const auto& [n, t] : table)
        if (name == n)
            return t;
    fail(ErrorKind::Unsupported, where + ": unsupported storage type '" + name + "'");
}

void collect(
    const pickle::Value& dict, const std::string& prefix, std::map<std::string, pickle::TensorRef>& out, int depth)
{
    if (depth > 4 || dict->type != Object::Type::Dict)
        return;
    for (const auto& [k, v] : dict->dict) {
        if (k->type != Object::Type::Str)
            continue;
        if (v->type == Object::Type::Tensor)
            out[prefix + k->s] = v->tensor;
    }
}

} // namespace

CkptFile::CkptFile(const fs::path& path)
    : m_path(path)
    , m_zip(std::make_unique<Zip>())
{
    const std::string where = path.string();
    std::error_code ec;
    if (fs::is_directory(path, ec))
        fail(ErrorKind::Io, where + ": is a directory, not a checkpoint file");
    m_fileSize = fs::file_size(path, ec);
    if (ec)
        fail(ErrorKind::Io, where + ": cannot read: " + ec.message());
#ifndef LS_WITH_LIBZIP
    fail(ErrorKind::Unsupported,
        where
            + ": this build has no libzip, so .ckpt checkpoints cannot be read (convert it to "
              ".safetensors, or build with libzip-dev installed)");
#else
    int err = 0;
    m_zip->z = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &err);
    if (!m_zip->z) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, err);
        std::string msg = zip_error_strerror(&ze);
        zip_error_fini(&ze);
        fail(ErrorKind::Format, where + ": not a readable PyTorch zip checkpoint: " + msg);
    }
    // Find <prefix>data.pkl.
    const zip_int64_t n = zip_get_num_entries(m_zip->z, 0);
    std::string pkl;
    for (zip_int64_t i = 0; i < n; ++i) {
        const char* name = zip_get_name(m_zip->z, static_cast<zip_uint64_t>(i), 0);
        if (!name)
            continue;
        std::string s = name;
        if (s.size() >= 8 && s.compare(s.size() - 8, 8, "data.pkl") == 0 && std::count(s.begin(), s.end(), '/') <= 1) {
            pkl = s;
            break;
        }
    }
    if (pkl.empty())
        fail(ErrorKind::Format, where + ": zip archive without data.pkl: not a PyTorch checkpoint");
    m_prefix = pkl.substr(0, pkl.size() - 8);
    const std::string data = readEntry(pkl, 1ull << 30);
    pickle::Value root = pickle::unpickle(data, where);
    if (root->type != Object::Type::Dict)
        fail(ErrorKind::Format, where + ": the checkpoint's top-level object is not a dict");
    pickle::Value sd;
    for (const auto& [k, v] : root->dict)
        if (k->type == Object::Type::Str && k->s == "state_dict" && v->type == Object::Type::Dict)
            sd = v;
    collect(sd ? sd : root, "", m_tensors, 0);
    if (m_tensors.empty())
        fail(ErrorKind::Format, where + ": the checkpoint holds no tensors");
    // Validate every tensor against its storage before any data is read.
    for (const auto& [key, t] : m_tensors) {
        const at::ScalarType dt = storageDtype(t.storage.dtype, where + ": tensor '" + key + "'");
        int64_t maxIndex = t.offset;
        for (size_t d = 0; d < t.size.size(); ++d)
            if (t.size[d] > 0)
                maxIndex += (t.size[d] - 1) * t.stride[d];
        int64_t numel = 1;
        for (int64_t s : t.size)
            numel *= s;
        if (numel > 0 && maxIndex >= t.storage.numel)
            fail(ErrorKind::Format,
                where + ": tensor '" + key + "' reaches element " + std::to_string(maxIndex) + " of a storage holding "
                    + std::to_string(t.storage.numel));
        zip_stat_t st;
        const std::string entry = m_prefix + "data/" + t.storage.key;
        if (zip_stat(m_zip->z, entry.c_str(), 0, &st) != 0)
            fail(ErrorKind::Format, where + ": tensor '" + key + "' refers to missing storage entry " + entry);
        const uint64_t need = static_cast<uint64_t>(t.storage.numel) * c10::elementSize(dt);
        if (st.size < need)
            fail(ErrorKind::Format,
                where + ": storage " + entry + " holds " + std::to_string(st.size) + " bytes, tensor '" + key
                    + "' needs " + std::to_string(need));
        if (st.comp_method == ZIP_CM_STORE && st.size > m_fileSize)
            fail(ErrorKind::Security,
                where + ": refused: zip entry " + entry + " declares " + std::to_string(st.size)
                    + " bytes, more than the whole file");
    }
#endif
}

CkptFile::~CkptFile() = default;

std::string CkptFile::readEntry(const std::string& name, uint64_t expectedMax) const
{
    const std::string where = m_path.string();
#ifndef LS_WITH_LIBZIP
    fail(ErrorKind::Unsupported,
        where + ": this build has no libzip (zip entry " + name + ", at most " + std::to_string(expectedMax)
            + " bytes)");
#else
    zip_stat_t st;
    if (zip_stat(m_zip->z, name.c_str(), 0, &st) != 0)
        fail(ErrorKind::Format, where + ": missing zip entry " + name);
    if (st.size > expectedMax)
        fail(ErrorKind::Security,
            where + ": refused: zip entry " + name + " declares " + std::to_string(st.size) + " bytes (limit "
                + std::to_string(expectedMax) + ")");
    if (st.comp_method == ZIP_CM_STORE && st.size > m_fileSize)
        fail(ErrorKind::Security, where + ": refused: zip entry " + name + " declares more bytes than the file holds");
    if (st.comp_method != ZIP_CM_STORE && st.comp_size > 0 && st.size / st.comp_size > 1000)
        fail(ErrorKind::Security,
            where + ": refused: zip entry " + name + " has an absurd compression ratio (zip bomb?)");
    std::string out(st.size, '\0');
    zip_file_t* f = zip_fopen(m_zip->z, name.c_str(), 0);
    if (!f)
        fail(ErrorKind::Format, where + ": cannot open zip entry " + name + ": " + zip_strerror(m_zip->z));
    zip_int64_t got = zip_fread(f, out.data(), st.size);
    zip_fclose(f);
    if (got < 0 || static_cast<uint64_t>(got) != st.size)
        fail(ErrorKind::Format, where + ": zip entry " + name + " is truncated or corrupt");
    return out;
#endif
}

std::vector<std::string> CkptFile::keys() const
{
    std::vector<std::string> k;
    for (const auto& [key, t] : m_tensors)
        k.push_back(key);
    return k;
}

TensorInfo CkptFile::info(const std::string& key) const
{
    auto it = m_tensors.find(key);
    if (it == m_tensors.end())
        fail(ErrorKind::Mismatch, path() + ": no tensor named '" + key + "'");
    return { storageDtype(it->second.storage.dtype, path()), it->second.size };
}

at::Tensor CkptFile::load(const std::string& key) const
{
    auto it = m_tensors.find(key);
    if (it == m_tensors.end())
        fail(ErrorKind::Mismatch, path() + ": no tensor named '" + key + "'");
    const auto& t = it->second;
    const at::ScalarType dt = storageDtype(t.storage.dtype, path());
    std::lock_guard<std::mutex> lock(m_zip->mutex);
    const uint64_t bytes = static_cast<uint64_t>(t.storage.numel) * c10::elementSize(dt);
    auto buf = std::make_shared<std::string>(
        readEntry(m_prefix + "data/" + t.storage.key, std::max<uint64_t>(bytes, 1) + 64));
    at::Tensor storage = at::from_blob(
        buf->data(), { t.storage.numel }, [buf](void*) {}, at::TensorOptions().dtype(dt));
    return storage.as_strided(t.size, t.stride, t.offset);
}

} // namespace ls::io
