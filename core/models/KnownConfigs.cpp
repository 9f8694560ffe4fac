#include "models/KnownConfigs.h"

#include "util/Error.h"

namespace ls::models {

using nlohmann::json;

namespace {

const char* const kSd1 = R"({
 "linear_start": 0.00085, "linear_end": 0.012, "timesteps": 1000, "scale_factor": 0.18215, "conditioning_key": "crossattn",
 "parameterization": "eps",
 "unet_config": {"params": {"in_channels": 4, "out_channels": 4, "model_channels": 320, "attention_resolutions": [4, 2, 1],
   "num_res_blocks": 2, "channel_mult": [1, 2, 4, 4], "num_heads": 8, "use_spatial_transformer": true, "transformer_depth": 1,
   "context_dim": 768, "legacy": false}},
 "first_stage_config": {"target": "ldm.models.autoencoder.AutoencoderKL", "params": {"embed_dim": 4, "ddconfig": {"double_z": true,
   "z_channels": 4, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128, "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2,
   "attn_resolutions": [], "dropout": 0.0}}},
 "cond_stage_config": {"target": "ldm.modules.encoders.modules.FrozenCLIPEmbedder"},
 "clip_config": {"vocab_size": 49408, "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
   "num_attention_heads": 12, "max_position_embeddings": 77, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-05}
})";

const char* const kSd2 = R"({
 "linear_start": 0.00085, "linear_end": 0.012, "timesteps": 1000, "scale_factor": 0.18215, "conditioning_key": "crossattn",
 "parameterization": "v",
 "unet_config": {"params": {"in_channels": 4, "out_channels": 4, "model_channels": 320, "attention_resolutions": [4, 2, 1],
   "num_res_blocks": 2, "channel_mult": [1, 2, 4, 4], "num_head_channels": 64, "use_spatial_transformer": true,
   "use_linear_in_transformer": true, "transformer_depth": 1, "context_dim": 1024, "legacy": false}},
 "first_stage_config": {"target": "ldm.models.autoencoder.AutoencoderKL", "params": {"embed_dim": 4, "ddconfig": {"double_z": true,
   "z_channels": 4, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128, "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2,
   "attn_resolutions": [], "dropout": 0.0}}},
 "cond_stage_config": {"target": "ldm.modules.encoders.modules.FrozenOpenCLIPEmbedder"}
})";

const char* const kX4 = R"({
 "linear_start": 0.0001, "linear_end": 0.02, "timesteps": 1000, "scale_factor": 0.08333, "conditioning_key": "hybrid-adm",
 "parameterization": "v",
 "low_scale_config": {"params": {"noise_schedule_config": {"linear_start": 0.0001, "linear_end": 0.02}, "max_noise_level": 350}},
 "unet_config": {"params": {"num_classes": 1000, "in_channels": 7, "out_channels": 4, "model_channels": 256,
   "attention_resolutions": [2, 4, 8], "num_res_blocks": 2, "channel_mult": [1, 2, 2, 4],
   "disable_self_attentions": [true, true, true, false], "disable_middle_self_attn": false, "num_heads": 8,
   "use_spatial_transformer": true, "transformer_depth": 1, "context_dim": 1024, "legacy": false, "use_linear_in_transformer": true}},
 "first_stage_config": {"target": "ldm.models.autoencoder.AutoencoderKL", "params": {"embed_dim": 4, "ddconfig": {"double_z": true,
   "z_channels": 4, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128, "ch_mult": [1, 2, 4], "num_res_blocks": 2,
   "attn_resolutions": [], "dropout": 0.0}}},
 "cond_stage_config": {"target": "ldm.modules.encoders.modules.FrozenOpenCLIPEmbedder"}
})";

const char* const kLdmSr = R"({
 "linear_start": 0.0015, "linear_end": 0.0155, "timesteps": 1000, "concat_mode": true, "parameterization": "eps",
 "unet_config": {"params": {"in_channels": 6, "out_channels": 3, "model_channels": 160, "attention_resolutions": [16, 8],
   "num_res_blocks": 2, "channel_mult": [1, 2, 2, 4], "num_head_channels": 32}},
 "first_stage_config": {"target": "ldm.models.autoencoder.VQModelInterface", "params": {"embed_dim": 3, "n_embed": 8192,
   "ddconfig": {"double_z": false, "z_channels": 3, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128, "ch_mult": [1, 2, 4],
   "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0}}},
 "cond_stage_config": {"target": "torch.nn.Identity"}
})";

const char* const kLayout = R"({
 "linear_start": 0.0015, "linear_end": 0.0205, "timesteps": 1000, "conditioning_key": "crossattn", "parameterization": "eps",
 "unet_config": {"params": {"in_channels": 3, "out_channels": 3, "model_channels": 128, "attention_resolutions": [8, 4, 2],
   "num_res_blocks": 2, "channel_mult": [1, 2, 3, 4], "num_head_channels": 32, "use_spatial_transformer": true,
   "transformer_depth": 3, "context_dim": 512}},
 "first_stage_config": {"target": "ldm.models.autoencoder.VQModelInterface", "params": {"embed_dim": 3, "n_embed": 8192,
   "ddconfig": {"double_z": false, "z_channels": 3, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128, "ch_mult": [1, 2, 4],
   "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0}}},
 "cond_stage_config": {"target": "ldm.modules.encoders.modules.BERTEmbedder", "params": {"n_embed": 512, "n_layer": 16,
   "vocab_size": 8192, "max_seq_len": 92}}
})";

// Stability-AI/generative-models configs/inference/sd_xl_base.yaml and sd_xl_refiner.yaml (model params).
const char* const kSdxlBase = R"({
 "scale_factor": 0.13025,
 "denoiser_config": {"target": "sgm.modules.diffusionmodules.denoiser.DiscreteDenoiser", "params": {"num_idx": 1000,
   "scaling_config": {"target": "sgm.modules.diffusionmodules.denoiser_scaling.EpsScaling"},
   "discretization_config": {"target": "sgm.modules.diffusionmodules.discretizer.LegacyDDPMDiscretization"}}},
 "network_config": {"target": "sgm.modules.diffusionmodules.openaimodel.UNetModel", "params": {"adm_in_channels": 2816,
   "num_classes": "sequential", "in_channels": 4, "out_channels": 4, "model_channels": 320, "attention_resolutions": [4, 2],
   "num_res_blocks": 2, "channel_mult": [1, 2, 4], "num_head_channels": 64, "use_linear_in_transformer": true,
   "transformer_depth": [1, 2, 10], "context_dim": 2048}},
 "conditioner_config": {"target": "sgm.modules.GeneralConditioner", "params": {"emb_models": [
   {"input_key": "txt", "target": "sgm.modules.encoders.modules.FrozenCLIPEmbedder", "params": {"layer": "hidden", "layer_idx": 11}},
   {"input_key": "txt", "target": "sgm.modules.encoders.modules.FrozenOpenCLIPEmbedder2", "params": {"arch": "ViT-bigG-14",
     "layer": "penultimate", "always_return_pooled": true, "legacy": false}},
   {"input_key": "original_size_as_tuple", "target": "sgm.modules.encoders.modules.ConcatTimestepEmbedderND", "params": {"outdim": 256}},
   {"input_key": "crop_coords_top_left", "target": "sgm.modules.encoders.modules.ConcatTimestepEmbedderND", "params": {"outdim": 256}},
   {"input_key": "target_size_as_tuple", "target": "sgm.modules.encoders.modules.ConcatTimestepEmbedderND", "params": {"outdim": 256}}]}},
 "first_stage_config": {"target": "sgm.models.autoencoder.AutoencoderKL", "params": {"embed_dim": 4, "ddconfig": {"double_z": true,
   "z_channels": 4, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128, "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2,
   "attn_resolutions": [], "dropout": 0.0}}}
})";

const char* const kSdxlRefiner = R"({
 "scale_factor": 0.13025,
 "denoiser_config": {"target": "sgm.modules.diffusionmodules.denoiser.DiscreteDenoiser", "params": {"num_idx": 1000,
   "scaling_config": {"target": "sgm.modules.diffusionmodules.denoiser_scaling.EpsScaling"},
   "discretization_config": {"target": "sgm.modules.diffusionmodules.discretizer.LegacyDDPMDiscretization"}}},
 "network_config": {"target": "sgm.modules.diffusionmodules.openaimodel.UNetModel", "params": {"adm_in_channels": 2560,
   "num_classes": "sequential", "in_channels": 4, "out_channels": 4, "model_channels": 384, "attention_resolutions": [4, 2],
   "num_res_blocks": 2, "channel_mult": [1, 2, 4, 4], "num_head_channels": 64, "use_linear_in_transformer": true,
   "transformer_depth": 4, "context_dim": [1280, 1280, 1280, 1280]}},
 "conditioner_config": {"target": "sgm.modules.GeneralConditioner", "params": {"emb_models": [
   {"input_key": "txt", "target": "sgm.modules.encoders.modules.FrozenOpenCLIPEmbedder2", "params": {"arch": "ViT-bigG-14",
     "layer": "penultimate", "always_return_pooled": true, "legacy": false}},
   {"input_key": "original_size_as_tuple", "target": "sgm.modules.encoders.modules.ConcatTimestepEmbedderND", "params": {"outdim": 256}},
   {"input_key": "crop_coords_top_left", "target": "sgm.modules.encoders.modules.ConcatTimestepEmbedderND", "params": {"outdim": 256}},
   {"input_key": "aesthetic_score", "target": "sgm.modules.encoders.modules.ConcatTimestepEmbedderND", "params": {"outdim": 256}}]}},
 "first_stage_config": {"target": "sgm.models.autoencoder.AutoencoderKL", "params": {"embed_dim": 4, "ddconfig": {"double_z": true,
   "z_channels": 4, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128, "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2,
   "attn_resolutions": [], "dropout": 0.0}}}
})";

} // namespace

std::vector<std::string> knownConfigNames()
{
    return { "sd1_v1_inference", "sd1_v1_inpainting", "sd2_v2_inference_v", "sd2_x4_upscaling", "ldm_sr_4x_bsr",
        "layout2img-openimages256", "sd_xl_base_1.0", "sd_xl_refiner_1.0" };
}

ModelConfig knownConfig(const std::string& name)
{
    json j;
    if (name == "sd1_v1_inference" || name == "sd1_v1_inpainting") {
        j = json::parse(kSd1);
        if (name == "sd1_v1_inpainting") {
            j["unet_config"]["params"]["in_channels"] = 9;
            j["conditioning_key"] = "hybrid";
        }
    } else if (name == "sd2_v2_inference_v") {
        j = json::parse(kSd2);
    } else if (name == "sd2_x4_upscaling") {
        j = json::parse(kX4);
    } else if (name == "ldm_sr_4x_bsr") {
        j = json::parse(kLdmSr);
    } else if (name == "layout2img-openimages256") {
        j = json::parse(kLayout);
    } else if (name == "sd_xl_base_1.0") {
        j = json::parse(kSdxlBase);
    } else if (name == "sd_xl_refiner_1.0") {
        j = json::parse(kSdxlRefiner);
    } else {
        std::string names;
        for (const auto& n : knownConfigNames())
            names += " " + n;
        fail(ErrorKind::InvalidInput, "unknown model name '" + name + "'; known:" + names);
    }
    ModelConfig c = configFromLdmJson(j, nullptr);
    c.source = name;
    return c;
}

} // namespace ls::models
