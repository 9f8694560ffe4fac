#pragma once
// The text cleaning of the CLIP tokenizers: the subset of ftfy.fix_text they rely on (mojibake repair of UTF-8 read as
// Windows-1252, HTML entities while no line so far held a '<', terminal escapes, curly quotes, Latin ligatures,
// full-width characters, line breaks, control characters, NFC; repeated until stable) and whitespace_clean.
#include <string>

namespace ls::text {

std::string fixText(const std::string& text);
std::string htmlUnescape(const std::string& text);
std::string whitespaceClean(const std::string& text);

} // namespace ls::text
