#include "io/ConfigFile.h"

#include "util/Error.h"

#include <cstdlib>
#include <fstream>

#ifdef LS_WITH_YAML
#include <yaml-cpp/yaml.h>
#endif

namespace ls::io {

namespace fs = std::filesystem;
using nlohmann::json;

#ifdef LS_WITH_YAML
namespace {
json scalar(const std::string& s, bool quoted)
{
    if (quoted)
        return s;
    if (s == "~" || s == "null" || s == "Null" || s == "NULL" || s.empty())
        return nullptr;
    if (s == "true" || s == "True" || s == "TRUE")
        return true;
    if (s == "false" || s == "False" || s == "FALSE")
        return false;
    char* end = nullptr;
    const long long i = std::strtoll(s.c_str(), &end, 10);
    if (end && *end == '\0')
        return i;
    const double d = std::strtod(s.c_str(), &end);
    if (end && *end == '\0')
        return d;
    return s;
}

json toJson(const YAML::Node& n)
{
    switch (n.Type()) {
    case YAML::NodeType::Null:
        return nullptr;
    case YAML::NodeType::Scalar:
        return scalar(n.Scalar(), n.Tag() == "!");
    case YAML::NodeType::Sequence: {
        json a = json::array();
        for (const auto& e : n)
            a.push_back(toJson(e));
        return a;
    }
    case YAML::NodeType::Map: {
        json o = json::object();
        for (const auto& kv : n)
            o[kv.first.as<std::string>()] = toJson(kv.second);
        return o;
    }
    default:
        return nullptr;
    }
}
} // namespace
#endif

bool hasYamlSupport()
{
#ifdef LS_WITH_YAML
    return true;
#else
    return false;
#endif
}

json readConfigFile(const fs::path& path)
{
    std::ifstream in(path);
    if (!in)
        fail(ErrorKind::Io, path.string() + ": cannot open config");
    const std::string ext = path.extension().string();
    if (ext == ".yaml" || ext == ".yml") {
#ifdef LS_WITH_YAML
        try {
            return toJson(YAML::Load(in));
        } catch (const YAML::Exception& e) {
            fail(ErrorKind::Format, path.string() + ": not valid YAML: " + e.what());
        }
#else
        fail(ErrorKind::Unsupported, path.string() + ": YAML configs need a build with yaml-cpp; convert it to JSON");
#endif
    }
    try {
        return json::parse(in);
    } catch (const json::exception& e) {
        fail(ErrorKind::Format, path.string() + ": not valid JSON: " + e.what());
    }
}

} // namespace ls::io
