#include "io/ImageFile.h"

#include "io/SafeTensors.h"
#include "util/Builtin.h"
#include "util/Error.h"

#ifdef LS_WITH_ZLIB
#include <zlib.h>
#endif

#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <unistd.h>

#ifdef LS_WITH_OIIO
#include <OpenImageIO/imageio.h>
#endif

namespace ls::io {

namespace fs = std::filesystem;

namespace {

uint32_t be32(const unsigned char* p)
{
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
}

void putBe32(std::string& s, uint32_t v)
{
    for (int i = 3; i >= 0; --i)
        s.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

void chunk(std::string& out, const char* type, const std::string& data)
{
    putBe32(out, static_cast<uint32_t>(data.size()));
    std::string td = std::string(type, 4) + data;
    out += td;
    putBe32(out, builtin::crc32(0, td.data(), td.size()));
}

#ifdef LS_WITH_ZLIB
std::string zcompress(const std::string& in)
{
    uLongf n = compressBound(static_cast<uLong>(in.size()));
    std::string out(n, '\0');
    if (compress2(reinterpret_cast<Bytef*>(out.data()), &n, reinterpret_cast<const Bytef*>(in.data()),
            static_cast<uLong>(in.size()), 6)
        != Z_OK)
        fail(ErrorKind::Internal, "zlib compression failed");
    out.resize(n);
    return out;
}

std::string zdecompress(const std::string& in, size_t expected, const std::string& where)
{
    std::string out(expected, '\0');
    z_stream zs {};
    inflateInit(&zs);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    int rc = inflate(&zs, Z_FINISH);
    const size_t got = zs.total_out;
    inflateEnd(&zs);
    if ((rc != Z_STREAM_END && rc != Z_BUF_ERROR && rc != Z_OK) || got != expected)
        fail(ErrorKind::Format, where + ": corrupt PNG image data");
    return out;
}

bool zuncompressText(const std::string& in, std::string& out)
{
    uLongf n = static_cast<uLongf>(in.size() * 20 + 1024);
    out.assign(n, '\0');
    if (uncompress(reinterpret_cast<Bytef*>(out.data()), &n, reinterpret_cast<const Bytef*>(in.data()),
            static_cast<uLong>(in.size()))
        != Z_OK)
        return false;
    out.resize(n);
    return true;
}
#else // built without zlib: PNGs are written with stored (uncompressed) deflate blocks and read with the own inflater
std::string zcompress(const std::string& in) { return builtin::zlibStore(in); }

std::string zdecompress(const std::string& in, size_t expected, const std::string& where)
{
    std::string out = builtin::zlibDecompress(in, where, expected);
    if (out.size() != expected)
        fail(ErrorKind::Format, where + ": corrupt PNG image data");
    return out;
}

bool zuncompressText(const std::string& in, std::string& out)
{
    try {
        out = builtin::zlibDecompress(in, "PNG text", in.size() * 20 + 1024);
        return true;
    } catch (const Error&) {
        return false;
    }
}
#endif

bool latin1Only(const std::string& s)
{
    for (unsigned char c : s)
        if (c >= 0x80)
            return false;
    return true;
}

bool isPng(const std::string& bytes) { return bytes.size() >= 8 && bytes.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0; }

} // namespace

std::string encodePng(const Image& img, const std::map<std::string, std::string>& metadata)
{
    if (img.empty() || img.channels < 1 || img.channels > 4 || img.channels == 2)
        fail(ErrorKind::InvalidInput, "PNG encoder: image must be non-empty with 1, 3 or 4 channels");
    std::string out("\x89PNG\r\n\x1a\n", 8);
    std::string ihdr;
    putBe32(ihdr, static_cast<uint32_t>(img.width));
    putBe32(ihdr, static_cast<uint32_t>(img.height));
    ihdr.push_back(8);
    ihdr.push_back(static_cast<char>(img.channels == 1 ? 0 : img.channels == 3 ? 2 : 6));
    ihdr.append(3, '\0');
    chunk(out, "IHDR", ihdr);
    for (const auto& [k, v] : metadata) {
        if (latin1Only(v)) {
            chunk(out, "tEXt", k + std::string(1, '\0') + v);
        } else {
            // iTXt: keyword, 0, compression flag 0, method 0, language "", 0, translated "", 0, UTF-8 text
            chunk(out, "iTXt",
                k + std::string(1, '\0') + std::string(2, '\0') + std::string(1, '\0') + std::string(1, '\0') + v);
        }
    }
    const size_t row = static_cast<size_t>(img.width) * img.channels;
    std::string raw;
    raw.reserve((row + 1) * img.height);
    for (int y = 0; y < img.height; ++y) {
        raw.push_back(0);
        raw.append(reinterpret_cast<const char*>(img.pixels.data() + y * row), row);
    }
    chunk(out, "IDAT", zcompress(raw));
    chunk(out, "IEND", "");
    return out;
}

ImageWithMetadata decodePng(const std::string& bytes, const std::string& where)
{
    if (!isPng(bytes))
        fail(ErrorKind::Format, where + ": not a PNG file");
    ImageWithMetadata r;
    size_t pos = 8;
    int colorType = -1, depth = 0, interlace = 0;
    std::string idat;
    while (pos + 12 <= bytes.size()) {
        const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + pos);
        const uint32_t len = be32(p);
        if (len > bytes.size() - pos - 12)
            fail(ErrorKind::Format, where + ": truncated PNG chunk");
        const std::string type(bytes.data() + pos + 4, 4);
        const std::string data = bytes.substr(pos + 8, len);
        pos += 12 + len;
        if (type == "IHDR" && data.size() >= 13) {
            const auto* d = reinterpret_cast<const unsigned char*>(data.data());
            r.image.width = static_cast<int>(be32(d));
            r.image.height = static_cast<int>(be32(d + 4));
            depth = d[8];
            colorType = d[9];
            interlace = d[12];
        } else if (type == "IDAT") {
            idat += data;
        } else if (type == "tEXt") {
            const auto z = data.find('\0');
            if (z != std::string::npos)
                r.metadata[data.substr(0, z)] = data.substr(z + 1);
        } else if (type == "iTXt") {
            const auto z = data.find('\0');
            if (z == std::string::npos || z + 3 > data.size())
                continue;
            const bool compressed = data[z + 1] != 0;
            size_t q = z + 3;
            q = data.find('\0', q); // language
            if (q == std::string::npos)
                continue;
            q = data.find('\0', q + 1); // translated keyword
            if (q == std::string::npos)
                continue;
            std::string text = data.substr(q + 1);
            if (compressed) {
                std::string outText;
                if (zuncompressText(text, outText))
                    text = outText;
            }
            r.metadata[data.substr(0, z)] = text;
        } else if (type == "IEND") {
            break;
        }
    }
    if (r.image.width <= 0 || r.image.height <= 0 || r.image.width > 65536 || r.image.height > 65536)
        fail(ErrorKind::Format, where + ": bad PNG dimensions");
    if (depth != 8 || interlace != 0 || (colorType != 0 && colorType != 2 && colorType != 6 && colorType != 4))
        fail(ErrorKind::Unsupported, where + ": this PNG flavour (palette, 16-bit or interlaced) needs OpenImageIO");
    const int inCh = colorType == 0 ? 1 : colorType == 2 ? 3 : colorType == 4 ? 2 : 4;
    const size_t row = static_cast<size_t>(r.image.width) * inCh;
    std::string raw = zdecompress(idat, (row + 1) * r.image.height, where);
    std::vector<uint8_t> px(row * r.image.height);
    for (int y = 0; y < r.image.height; ++y) {
        const uint8_t f = static_cast<uint8_t>(raw[y * (row + 1)]);
        const auto* src = reinterpret_cast<const uint8_t*>(raw.data() + y * (row + 1) + 1);
        uint8_t* dst = px.data() + y * row;
        const uint8_t* up = y ? px.data() + (y - 1) * row : nullptr;
        for (size_t x = 0; x < row; ++x) {
            const int a = x >= static_cast<size_t>(inCh) ? dst[x - inCh] : 0;
            const int b = up ? up[x] : 0;
            const int c = (up && x >= static_cast<size_t>(inCh)) ? up[x - inCh] : 0;
            int v = src[x];
            switch (f) {
            case 0:
                break;
            case 1:
                v += a;
                break;
            case 2:
                v += b;
                break;
            case 3:
                v += (a + b) / 2;
                break;
            case 4: {
                const int pp = a + b - c, pa = std::abs(pp - a), pb = std::abs(pp - b), pc = std::abs(pp - c);
                v += (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
                break;
            }
            default:
                fail(ErrorKind::Format, where + ": bad PNG filter type");
            }
            dst[x] = static_cast<uint8_t>(v);
        }
    }
    if (inCh == 2) { // gray + alpha -> RGBA
        r.image.channels = 4;
        r.image.pixels.resize(static_cast<size_t>(r.image.width) * r.image.height * 4);
        for (size_t i = 0; i < static_cast<size_t>(r.image.width) * r.image.height; ++i) {
            r.image.pixels[i * 4] = r.image.pixels[i * 4 + 1] = r.image.pixels[i * 4 + 2] = px[i * 2];
            r.image.pixels[i * 4 + 3] = px[i * 2 + 1];
        }
    } else {
        r.image.channels = inCh;
        r.image.pixels = std::move(px);
    }
    return r;
}

bool hasImageLibrary()
{
#ifdef LS_WITH_OIIO
    return true;
#else
    return false;
#endif
}

std::vector<std::pair<std::string, std::vector<std::string>>> writableImageFormats()
{
    std::vector<std::pair<std::string, std::vector<std::string>>> out { { "png", { "png" } } };
#ifdef LS_WITH_OIIO
    // "tiff:tif,tiff;png:png;..." for every plugin; keep those that can create an ImageOutput.
    const std::string list = OIIO::get_string_attribute("extension_list");
    size_t pos = 0;
    while (pos < list.size()) {
        size_t end = list.find(';', pos);
        if (end == std::string::npos)
            end = list.size();
        const std::string entry = list.substr(pos, end - pos);
        pos = end + 1;
        const size_t colon = entry.find(':');
        if (colon == std::string::npos || entry.compare(0, colon, "png") == 0)
            continue;
        const std::string name = entry.substr(0, colon);
        std::vector<std::string> exts;
        std::stringstream es(entry.substr(colon + 1));
        for (std::string e; std::getline(es, e, ',');)
            if (!e.empty())
                exts.push_back(e);
        if (exts.empty() || name == "null" || name == "term" || name == "iv")
            continue;
        auto probe = OIIO::ImageOutput::create("probe." + exts.front());
        if (probe && probe->supports("alpha") >= 0) // creatable writer
            out.emplace_back(name, exts);
    }
#endif
    return out;
}

ImageWithMetadata decodeImage(const std::string& bytes, const std::string& where)
{
    if (bytes.empty())
        fail(ErrorKind::Format, where + ": no image data (0 bytes)");
    if (isPng(bytes))
        return decodePng(bytes, where);
#ifdef LS_WITH_OIIO
    // OpenImageIO's readers want a file for some formats: a private temporary one, named so the reader is chosen by
    // the content's signature.
    const auto sig = [&](size_t at, const char* s) { return bytes.compare(at, std::strlen(s), s) == 0; };
    const char* ext = bytes.size() > 3 && static_cast<unsigned char>(bytes[0]) == 0xFF
            && static_cast<unsigned char>(bytes[1]) == 0xD8
        ? ".jpg"
        : bytes.size() > 12 && sig(0, "RIFF") && sig(8, "WEBP") ? ".webp"
        : sig(0, "GIF8")                                        ? ".gif"
        : sig(0, "BM")                                          ? ".bmp"
        : sig(0, "II*") || sig(0, "MM")                         ? ".tif"
                                                                : nullptr;
    if (!ext)
        fail(ErrorKind::Format, where + ": not a PNG, JPEG, WebP, GIF, BMP or TIFF image");
    std::error_code ec;
    const fs::path dir = fs::temp_directory_path(ec);
    static std::atomic<uint64_t> counter { 0 };
    const fs::path tmp = dir / ("latent-studio-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ext);
    writeFileAtomic(tmp, bytes);
    struct Remove {
        fs::path p;
        ~Remove()
        {
            std::error_code e;
            fs::remove(p, e);
        }
    } remove { tmp };
    try {
        return readImage(tmp);
    } catch (const Error& e) {
        std::string msg = e.what();
        const auto at = msg.find(tmp.string());
        if (at != std::string::npos)
            msg.replace(at, tmp.string().size(), where);
        fail(e.kind(), msg);
    }
#else
    fail(ErrorKind::Unsupported, where + ": only PNG can be read in this build (no OpenImageIO)");
#endif
}

ImageWithMetadata readImage(const fs::path& path)
{
    const std::string where = path.string();
    std::error_code ec;
    if (!fs::exists(path, ec))
        fail(ErrorKind::Io, where + ": no such file");
    if (fs::is_directory(path, ec))
        fail(ErrorKind::Io, where + ": is a directory, not an image");
    std::ifstream in(path, std::ios::binary);
    if (!in)
        fail(ErrorKind::Io, where + ": cannot open");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string bytes = ss.str();
    if (bytes.empty())
        fail(ErrorKind::Format, where + ": file is empty (0 bytes)");
#ifdef LS_WITH_OIIO
    if (!isPng(bytes)) {
        auto inp = OIIO::ImageInput::open(path.string());
        if (!inp)
            fail(ErrorKind::Format, where + ": not a readable image: " + OIIO::geterror());
        const OIIO::ImageSpec& spec = inp->spec();
        if (spec.width <= 0 || spec.height <= 0 || spec.width > 65536 || spec.height > 65536 || spec.nchannels <= 0)
            fail(ErrorKind::Format, where + ": bad image dimensions");
        const int ch = std::min(spec.nchannels, 4);
        std::vector<uint8_t> px(static_cast<size_t>(spec.width) * spec.height * spec.nchannels);
        if (!inp->read_image(0, 0, 0, spec.nchannels, OIIO::TypeDesc::UINT8, px.data()))
            fail(ErrorKind::Format, where + ": cannot decode: " + inp->geterror());
        ImageWithMetadata r;
        r.image = Image(spec.width, spec.height, ch == 2 ? 4 : ch);
        for (size_t i = 0; i < static_cast<size_t>(spec.width) * spec.height; ++i) {
            const uint8_t* s = px.data() + i * spec.nchannels;
            uint8_t* d = r.image.pixels.data() + i * r.image.channels;
            if (ch == 2) {
                d[0] = d[1] = d[2] = s[0];
                d[3] = s[1];
            } else {
                for (int c = 0; c < ch; ++c)
                    d[c] = s[c];
            }
        }
        for (const auto& p : spec.extra_attribs)
            if (p.type() == OIIO::TypeDesc::STRING)
                r.metadata[p.name().string()] = spec.get_string_attribute(p.name());
        return r;
    }
#endif
    if (!isPng(bytes))
        fail(ErrorKind::Unsupported, where + ": only PNG can be read in this build (no OpenImageIO)");
    return decodePng(bytes, where);
}

void writeImage(const fs::path& path, const Image& image, const std::map<std::string, std::string>& metadata)
{
    if (image.empty())
        fail(ErrorKind::InvalidInput, path.string() + ": refusing to write an empty image");
    std::string ext = path.extension().string();
    for (auto& c : ext)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (ext == ".png" || !hasImageLibrary()) {
        if (ext != ".png")
            fail(ErrorKind::Unsupported, path.string() + ": only PNG can be written in this build (no OpenImageIO)");
        writeFileAtomic(path, encodePng(image, metadata));
        return;
    }
#ifdef LS_WITH_OIIO
    const fs::path tmp = path.parent_path()
        / (path.stem().string() + ".tmp-" + std::to_string(::getpid()) + path.extension().string());
    auto out = OIIO::ImageOutput::create(tmp.string());
    if (!out)
        fail(ErrorKind::Unsupported, path.string() + ": no writer for '" + ext + "' files: " + OIIO::geterror());
    OIIO::ImageSpec spec(image.width, image.height, image.channels, OIIO::TypeDesc::UINT8);
    for (const auto& [k, v] : metadata)
        spec.attribute(k, v);
    if (!out->open(tmp.string(), spec) || !out->write_image(OIIO::TypeDesc::UINT8, image.pixels.data())
        || !out->close()) {
        std::error_code ec;
        fs::remove(tmp, ec);
        fail(ErrorKind::Io, path.string() + ": cannot write: " + out->geterror());
    }
    int fd = ::open(tmp.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec)
        fail(ErrorKind::Io, path.string() + ": cannot rename into place: " + ec.message());
#endif
}

} // namespace ls::io
