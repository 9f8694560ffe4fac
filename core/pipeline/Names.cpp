#include "pipeline/Names.h"

#include <algorithm>
#include <cctype>

namespace ls::pipeline {

std::string asciiLower(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::string lookupName(const NameTable& table, const std::string& name)
{
    const std::string l = asciiLower(name);
    for (const auto& [ours, aliases] : table) {
        if (asciiLower(ours) == l)
            return ours;
        for (const auto& a : aliases)
            if (asciiLower(a) == l)
                return ours;
    }
    return {};
}

namespace {

// The names of a table in its order (the enum's).
std::vector<std::string> oursIn(const NameTable& table)
{
    std::vector<std::string> names;
    for (const auto& [ours, aliases] : table)
        names.push_back(ours);
    return names;
}

// The row of `name` in the table (any case, aliases included), if any.
std::optional<size_t> rowOf(const NameTable& table, const std::string& name)
{
    const std::string ours = lookupName(table, name);
    for (size_t i = 0; i < table.size(); ++i)
        if (!ours.empty() && table[i].first == ours)
            return i;
    return std::nullopt;
}

const NameTable& deviceTable()
{
    static const NameTable t { { "cpu", {} }, { "cuda", {} } }; // in Device's order
    return t;
}

const NameTable& predictionTable()
{
    static const NameTable t { { "eps", { "epsilon" } }, { "v", { "v_prediction" } } }; // in Prediction's order
    return t;
}

} // namespace

const std::vector<std::string>& deviceNames()
{
    static const std::vector<std::string> names = oursIn(deviceTable());
    return names;
}

std::optional<Device> findDevice(const std::string& name)
{
    const auto row = rowOf(deviceTable(), name);
    return row ? std::optional<Device>(static_cast<Device>(*row)) : std::nullopt;
}

const std::string& deviceName(Device d) { return deviceNames().at(static_cast<size_t>(d)); }

const std::vector<std::string>& predictionNames()
{
    static const std::vector<std::string> names = oursIn(predictionTable());
    return names;
}

std::optional<Prediction> findPrediction(const std::string& name)
{
    const auto row = rowOf(predictionTable(), name);
    return row ? std::optional<Prediction>(static_cast<Prediction>(*row)) : std::nullopt;
}

const std::string& predictionName(Prediction p) { return predictionNames().at(static_cast<size_t>(p)); }

} // namespace ls::pipeline
