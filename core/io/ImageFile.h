#pragma once
// Image files through OpenImageIO (PNG, JPEG, TIFF, EXR, WebP, ... whatever the installed OIIO reads and writes),
// with string metadata (PNG text chunks). Built without OIIO, PNG is written by a small built-in encoder and read
// back by it too.
#include "util/Image.h"

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ls::io {

struct ImageWithMetadata {
    Image image;
    std::map<std::string, std::string> metadata; // e.g. "parameters" (A1111 infotext), "latent_studio" (JSON)
};

// Reads any supported file as 8-bit RGB/RGBA/gray; errors name the file and the cause.
ImageWithMetadata readImage(const std::filesystem::path& path);
// Writes atomically (temporary file in the same folder, fsync, rename); format from the extension.
void writeImage(
    const std::filesystem::path& path, const Image& image, const std::map<std::string, std::string>& metadata = {});

// An image file's bytes (an upload, a base64 field): PNG by the built-in decoder, anything else (JPEG, WebP, ...)
// through OpenImageIO where it is built in. Errors name `where`.
ImageWithMetadata decodeImage(const std::string& bytes, const std::string& where);

// Built-in PNG codec (8-bit gray/RGB/RGBA, tEXt/iTXt chunks), used when OIIO is not built in.
std::string encodePng(const Image& image, const std::map<std::string, std::string>& metadata);
ImageWithMetadata decodePng(const std::string& bytes, const std::string& where);

bool hasImageLibrary(); // true when OpenImageIO is built in

// Formats writeImage can write here, as (format name, extensions without dots), PNG first: what the installed
// OpenImageIO has writers for (8-bit RGB), or PNG alone without it.
std::vector<std::pair<std::string, std::vector<std::string>>> writableImageFormats();

} // namespace ls::io
