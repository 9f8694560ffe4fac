#pragma once
// AUTOMATIC1111's /sdapi/v1 request bodies (modules/api/models.py) read into our requests: its field names, its
// defaults, its coercions (pydantic: "5" is an int, 5.0 too), and every problem collected at once as FastAPI reports
// them (HTTP 422, {"detail": [{"loc": ["body", field], "msg": ..., "type": ...}]}). A field we understand but cannot
// carry out (restore_faces, a variation seed, a style) is refused by name, never silently dropped; fields we do not
// know are ignored as A1111 ignores them. No HTTP here: the server (ApiServer) and the tests call these directly.
#include "io/ImageFile.h"
#include "pipeline/GenerationRequest.h"

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <vector>

namespace ls::server {

struct FieldProblem {
    std::vector<std::string> loc; // e.g. {"body", "steps"}
    std::string msg;
    std::string type = "value_error";
};

// A request that cannot run: HTTP 422 with problemsDetail(problems).
class InvalidRequest : public std::runtime_error {
public:
    explicit InvalidRequest(std::vector<FieldProblem> problems);
    const std::vector<FieldProblem>& problems() const { return m_problems; }

private:
    std::vector<FieldProblem> m_problems;
};

nlohmann::json problemsDetail(const std::vector<FieldProblem>& problems);
// A1111's api_middleware body for a failure that is not the request's: {"error", "detail", "body", "errors"}.
nlohmann::json errorBody(const std::string& kind, const std::string& what);
// "alwayson_scripts.controlnet.args.0" -> its parts, as a FieldProblem's loc.
std::vector<std::string> locOf(const std::string& dottedField);

// Our validation's field names (GenerationRequest::validate, Engine::check) in A1111's spelling.
std::string apiFieldName(const std::string& ourField);
// Our validation's problems as the request's fields' (loc "body", A1111's name).
std::vector<FieldProblem> fieldProblems(const std::vector<pipeline::Problem>& problems);

struct ApiJob {
    pipeline::GenerationRequest request; // seed fixed (never -1), mode set
    int iterations = 1; // n_iter: batches run one after another, seeds continuing
    int64_t subseed = -1;
    bool sendImages = true;
    bool includeInitImages = false; // img2img: echo init_images and mask in "parameters"
    std::string checkpoint; // override_settings.sd_model_checkpoint, as the client wrote it (empty: the loaded one)
    std::string vae; // override_settings.sd_vae ("Automatic"/"None": the model's own)
    std::vector<std::string> controlModels; // per request.controls[i]: the model name the client wrote
    nlohmann::json parameters; // the body as A1111 echoes it back ("parameters")
};

// Throw InvalidRequest listing every problem found. `maxPixels` bounds width x height (and decoded images).
ApiJob parseTxt2Img(const nlohmann::json& body, int64_t maxPixels);
ApiJob parseImg2Img(const nlohmann::json& body, int64_t maxPixels);

// An image as A1111 accepts it: base64, optionally behind a "data:image/...;base64," prefix; PNG, or what
// OpenImageIO reads (JPEG, WebP, ...), with its text chunks. Problems name `field` (a dotted path, e.g.
// "body.init_images.0").
io::ImageWithMetadata decodeApiImageFile(const std::string& text, const std::string& field);
// The same, its pixels alone, within the server's pixel limit.
Image decodeApiImage(const std::string& text, const std::string& field, int64_t maxPixels);
// PNG (with the metadata as text chunks), base64 without a prefix, as A1111 returns images.
std::string encodeApiImage(const Image& image, const std::map<std::string, std::string>& metadata = {});

// A1111's images.resize_image: 0 just resize, 1 crop and resize (cover, centred), 2 resize and fill (fit, the
// borders filled by stretching the edge rows or columns). Lanczos.
Image resizeForApi(const Image& image, int mode, int width, int height);

// A1111's create_binary_mask: the alpha channel of an RGBA mask that is not fully opaque, else the luminance;
// rounded (> 128 repaints).
Image binaryMask(const Image& mask);

// POST /sdapi/v1/extra-single-image: the picture, the upscaler's name as the client wrote it ("LDM", "Lanczos",
// "None") and its resize (2 = twice the size).
struct ExtrasJob {
    Image image;
    std::string upscaler;
    double resize = 2;
    int resizeMode = 0; // 0: by factor, 1: to upscaling_resize_w x h
    int width = 512, height = 512;
    bool crop = true;
};
ExtrasJob parseExtrasSingle(const nlohmann::json& body, int64_t maxPixels);

} // namespace ls::server
