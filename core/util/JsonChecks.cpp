#include "util/JsonChecks.h"

#include "util/Error.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <utility>
#include <vector>

namespace ls {

void checkJsonNumbers(const nlohmann::json& j, const std::string& where)
{
    constexpr double kLimit = 9007199254740992.0; // 2^53
    std::vector<std::pair<const nlohmann::json*, std::string>> todo { { &j, "" } };
    while (!todo.empty()) {
        auto [node, path] = std::move(todo.back());
        todo.pop_back();
        if (node->is_number_float()) {
            const double v = node->get<double>();
            if (!std::isfinite(v) || std::abs(v) > kLimit)
                fail(ErrorKind::Format,
                    where + ": the number at " + (path.empty() ? std::string("/") : path) + " (" + node->dump()
                        + ") is out of range");
        } else if (node->is_object()) {
            for (auto it = node->begin(); it != node->end(); ++it)
                todo.emplace_back(&it.value(), path + "/" + it.key());
        } else if (node->is_array()) {
            for (size_t i = 0; i < node->size(); ++i)
                todo.emplace_back(&(*node)[i], path + "/" + std::to_string(i));
        }
    }
}

} // namespace ls
