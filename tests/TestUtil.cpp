#include "TestUtil.h"

#include "util/Error.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace ls::test {

namespace fs = std::filesystem;

fs::path sharedDir() { return fs::path(LS_SHARED_DIR); }
fs::path goldenDir() { return sharedDir() / "golden"; }

namespace {
struct TempDir {
    fs::path path;
    TempDir()
    {
        path = fs::temp_directory_path() / ("ls-test-" + std::to_string(::getpid()));
        fs::create_directories(path);
    }
    ~TempDir()
    {
        std::error_code ec;
        fs::permissions(path, fs::perms::owner_all, fs::perm_options::add, ec);
        fs::remove_all(path, ec);
    }
};
} // namespace

fs::path tempDir()
{
    static TempDir t;
    return t.path;
}

void writeBytes(const fs::path& p, const std::string& bytes)
{
    std::ofstream out(p, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string readBytes(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string errorOf(const std::function<void()>& fn)
{
    try {
        fn();
    } catch (const ls::Error& e) {
        return e.what();
    }
    return {};
}

} // namespace ls::test
