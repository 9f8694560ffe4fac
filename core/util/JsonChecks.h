#pragma once
// Guards for JSON read from outside (model configs, diffusers config.json, YAML converted to JSON): nlohmann converts
// a floating-point value to an integer with a plain cast, which is undefined behaviour when the value does not fit
// (found by fuzz_config: "in_channels": 1.5e38). Configs are checked once, on entry, so that every later
// value<int64_t>() and get<int>() is well defined.
#include <nlohmann/json_fwd.hpp>

#include <string>

namespace ls {

// Throws a Format error naming `where` and the JSON path of the first floating-point number that is not finite or
// lies outside +-2^53 (where every integer is exact). Walks the whole document without recursion.
void checkJsonNumbers(const nlohmann::json& j, const std::string& where);

} // namespace ls
