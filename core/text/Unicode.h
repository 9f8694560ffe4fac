#pragma once
// Code points for the text cleaners and the BPE tokenizer: UTF-8 coding as Python's 'replace', Python's \s, Unicode
// letter/number categories, lower case and NFC. Over utf8proc when the build has it (else ASCII-exact, see
// Unicode.cpp).
#include <cstdint>
#include <string>
#include <vector>

namespace ls::text {

using CodePoints = std::vector<int32_t>;

CodePoints decodeUtf8(const std::string& s); // invalid bytes become U+FFFD
std::string encodeUtf8(const CodePoints& cps);
std::string encodeUtf8(int32_t cp);
bool isValidUtf8(const std::string& s);
bool isSpace(int32_t c); // Python's \s for str patterns
bool isLetter(int32_t c);
bool isNumber(int32_t c);
int32_t toLower(int32_t c);
std::string lower(const std::string& s);
std::string nfc(const std::string& s); // unchanged without utf8proc

} // namespace ls::text
