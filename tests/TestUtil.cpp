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

Image gradient(int w, int h)
{
    Image img(w, h, 3);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) {
            auto* p = img.at(x, y);
            p[0] = static_cast<uint8_t>(x * 255 / w);
            p[1] = static_cast<uint8_t>(y * 255 / h);
            p[2] = 90;
        }
    return img;
}

Image rectMask(int w, int h, int x0, int y0, int x1, int y1)
{
    Image m(w, h, 1);
    for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x)
            m.at(x, y)[0] = 255;
    return m;
}

} // namespace ls::test
