#include "pipeline/Names.h"

#include <algorithm>
#include <cctype>

namespace ls::pipeline {

namespace {
std::string lower(std::string s)
{
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}
} // namespace

const std::vector<std::string>& deviceNames()
{
    static const std::vector<std::string> names { "cpu", "cuda" }; // in Device's order
    return names;
}

std::optional<Device> findDevice(const std::string& name)
{
    const std::string l = lower(name);
    for (size_t i = 0; i < deviceNames().size(); ++i)
        if (deviceNames()[i] == l)
            return static_cast<Device>(i);
    return std::nullopt;
}

const std::string& deviceName(Device d) { return deviceNames().at(static_cast<size_t>(d)); }

const std::vector<std::string>& predictionNames()
{
    static const std::vector<std::string> names { "eps", "v" }; // in Prediction's order
    return names;
}

std::optional<Prediction> findPrediction(const std::string& name)
{
    const std::string l = lower(name);
    if (l == "eps" || l == "epsilon")
        return Prediction::Eps;
    if (l == "v" || l == "v_prediction")
        return Prediction::V;
    return std::nullopt;
}

const std::string& predictionName(Prediction p) { return predictionNames().at(static_cast<size_t>(p)); }

const std::vector<std::string>& upscaleMethodNames()
{
    static const std::vector<std::string> names { "lanczos", "super-resolution", "sd-x4", "tiled-img2img" };
    return names;
}

std::optional<UpscaleMethod> findUpscaleMethod(const std::string& name)
{
    const std::string l = lower(name);
    for (size_t i = 0; i < upscaleMethodNames().size(); ++i)
        if (upscaleMethodNames()[i] == l)
            return static_cast<UpscaleMethod>(i);
    return std::nullopt;
}

const std::string& upscaleMethodName(UpscaleMethod m) { return upscaleMethodNames().at(static_cast<size_t>(m)); }

} // namespace ls::pipeline
