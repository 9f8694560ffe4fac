#pragma once
#include <string>

namespace ls {
std::string base64Encode(const std::string& bytes);
// Throws InvalidInput on characters outside the alphabet.
std::string base64Decode(const std::string& text);
} // namespace ls
