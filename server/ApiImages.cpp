// The images inside AUTOMATIC1111 API bodies: base64 in and out, A1111's resize modes and binary masks.
#include "server/ApiRequest.h"

#include "io/ImageFile.h"
#include "pipeline/ImageOps.h"
#include "util/Base64.h"
#include "util/Error.h"

#include <algorithm>

namespace ls::server {

// A1111's create_binary_mask: the alpha channel of an RGBA mask that is not fully opaque, else the luminance (PIL's
// L: 299/587/114 per mille); rounded, > 128 painted.
Image binaryMask(const Image& mask)
{
    Image m(mask.width, mask.height, 1);
    bool useAlpha = false;
    if (mask.channels == 4)
        for (size_t i = 3; i < mask.pixels.size() && !useAlpha; i += 4)
            useAlpha = mask.pixels[i] != 255;
    for (size_t i = 0; i < m.pixels.size(); ++i) {
        const uint8_t* p = mask.pixels.data() + i * mask.channels;
        int v = p[0];
        if (useAlpha)
            v = p[3];
        else if (mask.channels >= 3)
            v = (p[0] * 299 + p[1] * 587 + p[2] * 114) / 1000;
        m.pixels[i] = v > 128 ? 255 : 0;
    }
    return m;
}

std::vector<std::string> locOf(const std::string& field)
{
    std::vector<std::string> loc;
    size_t b = 0;
    for (size_t e; (e = field.find('.', b)) != std::string::npos; b = e + 1)
        loc.push_back(field.substr(b, e - b));
    loc.push_back(field.substr(b));
    return loc;
}

io::ImageWithMetadata decodeApiImageFile(const std::string& text, const std::string& field)
{
    std::string b64 = text;
    if (b64.rfind("data:", 0) == 0) {
        const auto comma = b64.find(',');
        if (comma == std::string::npos || b64.find(";base64", 0) > comma)
            throw InvalidRequest({ { locOf(field), "a data: URL must be base64 (data:image/png;base64,...)" } });
        b64 = b64.substr(comma + 1);
    } else if (b64.rfind("http://", 0) == 0 || b64.rfind("https://", 0) == 0) {
        throw InvalidRequest({ { locOf(field), "image URLs are not fetched: send the image as base64" } });
    }
    std::string bytes;
    try {
        bytes = base64Decode(b64);
    } catch (const Error& e) {
        throw InvalidRequest({ { locOf(field), std::string("Invalid encoded image: ") + e.what() } });
    }
    if (bytes.empty())
        throw InvalidRequest({ { locOf(field), "Invalid encoded image: empty" } });
    try {
        return io::decodeImage(bytes, field);
    } catch (const Error& e) {
        throw InvalidRequest({ { locOf(field), std::string("Invalid encoded image: ") + e.what() } });
    }
}

Image decodeApiImage(const std::string& text, const std::string& field, int64_t maxPixels)
{
    const io::ImageWithMetadata img = decodeApiImageFile(text, field);
    if (static_cast<int64_t>(img.image.width) * img.image.height > maxPixels)
        throw InvalidRequest({ { locOf(field),
            "the image is " + std::to_string(img.image.width) + "x" + std::to_string(img.image.height)
                + ", over this server's limit of " + std::to_string(maxPixels) + " pixels" } });
    return img.image;
}

std::string encodeApiImage(const Image& image, const std::map<std::string, std::string>& metadata)
{
    return base64Encode(io::encodePng(image, metadata));
}

Image resizeForApi(const Image& im, int mode, int width, int height)
{
    if (im.width == width && im.height == height)
        return im;
    if (mode == 0)
        return pipeline::resizeLanczos(im, width, height);
    const double ratio = static_cast<double>(width) / height;
    const double srcRatio = static_cast<double>(im.width) / im.height;
    int srcW, srcH;
    if (mode == 1) {
        srcW = ratio > srcRatio ? width : im.width * height / im.height;
        srcH = ratio <= srcRatio ? height : im.height * width / im.width;
    } else {
        srcW = ratio < srcRatio ? width : im.width * height / im.height;
        srcH = ratio >= srcRatio ? height : im.height * width / im.width;
    }
    srcW = std::max(srcW, 1);
    srcH = std::max(srcH, 1);
    const Image resized = pipeline::resizeLanczos(im, srcW, srcH);
    Image out(width, height, im.channels, 0);
    const int ox = width / 2 - srcW / 2, oy = height / 2 - srcH / 2;
    // Paste (clipped), then for "resize and fill" stretch the edge rows/columns over the borders.
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x) {
            int sx = x - ox, sy = y - oy;
            if (mode == 2) {
                sx = std::clamp(sx, 0, srcW - 1);
                sy = std::clamp(sy, 0, srcH - 1);
            } else if (sx < 0 || sy < 0 || sx >= srcW || sy >= srcH) {
                continue;
            }
            std::copy_n(resized.at(sx, sy), im.channels, out.at(x, y));
        }
    return out;
}

} // namespace ls::server
