// The AUTOMATIC1111 API request bodies as `latent-cli serve` reads them (server/ApiRequest.h): JSON from any client,
// base64 images inside it. A clean InvalidRequest (HTTP 422) is the expected answer to bad input.
#include "server/ApiRequest.h"

#include <nlohmann/json.hpp>

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::string text(reinterpret_cast<const char*>(data), size);
    nlohmann::json body;
    try {
        body = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception&) {
        return 0;
    }
    const int64_t maxPixels = 256 * 256;
    for (int kind = 0; kind < 3; ++kind)
        try {
            if (kind == 0)
                (void)ls::server::parseTxt2Img(body, maxPixels);
            else if (kind == 1)
                (void)ls::server::parseImg2Img(body, maxPixels);
            else
                (void)ls::server::parseExtrasSingle(body, maxPixels);
        } catch (const ls::server::InvalidRequest& e) {
            (void)ls::server::problemsDetail(e.problems()).dump();
        } catch (const std::exception&) {
        }
    return 0;
}
