// LoRA files: module names of the kohya/AUTOMATIC1111 and diffusers/PEFT formats land on the right weights of the
// full-size SD1 and SD2 models, the delta is exactly multiplier * alpha / rank * up @ down, restoring gives back the
// weights bit for bit, prompts' <lora:...> tags work end to end, and bad files are refused naming the file and key.
#include "TestUtil.h"
#include "TinySd1.h"

#include "io/SafeTensors.h"
#include "models/KnownConfigs.h"
#include "models/Lora.h"
#include "pipeline/Generator.h"
#include "pipeline/Infotext.h"
#include "pipeline/LoraFiles.h"
#include "pipeline/ModelLoading.h"
#include "util/Error.h"
#include "util/Sha256.h"

#include <fstream>
#include <sstream>

#include <QtTest/QtTest>

#include <nlohmann/json.hpp>

using namespace ls;
using namespace ls::models;
namespace fs = std::filesystem;

namespace {

std::shared_ptr<LatentModel> metaModel(const std::string& manifest)
{
    return LatentModel::build(knownConfig(manifest), at::TensorOptions().dtype(at::kFloat).device(at::kMeta));
}

std::map<std::string, at::Tensor> snapshot(LatentModel& m)
{
    std::map<std::string, at::Tensor> s;
    m.forEachTensor([&](const std::string& k, at::Tensor& t) { s[k] = t.clone(); });
    return s;
}

// A LoRA for the tiny SD1 checkpoint, in both file formats, with every kind of pair: linear, 3x3 convolution (LoCon),
// 1x1 convolution written as linear, text encoder, with and without alpha.
struct TinyLora {
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    struct Expect {
        std::string target;
        at::Tensor up, down;
        double scale;
        bool text;
    };
    std::vector<Expect> expect;

    void add(const std::string& upKey, const std::string& downKey, const std::string& alphaKey, at::Tensor up,
        at::Tensor down, double alpha, const std::string& target, bool text = false)
    {
        tensors.push_back({ upKey, up });
        tensors.push_back({ downKey, down });
        if (!alphaKey.empty())
            tensors.push_back({ alphaKey, at::full({}, alpha, at::kFloat) });
        expect.push_back({ target, up, down, alphaKey.empty() ? 1.0 : alpha / down.size(0), text });
    }
};

TinyLora tinyLora()
{
    at::manual_seed(7);
    TinyLora l;
    const std::string u = "model.diffusion_model.";
    auto pair = [&](const std::string& module, at::Tensor up, at::Tensor down, double alpha, const std::string& target,
                    bool text = false) {
        l.add(
            module + ".lora_up.weight", module + ".lora_down.weight", module + ".alpha", up, down, alpha, target, text);
    };
    pair("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k", at::randn({ 32, 4 }),
        at::randn({ 4, 64 }), 2.0, u + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight");
    pair("lora_unet_down_blocks_0_resnets_0_conv1", at::randn({ 32, 4, 1, 1 }), at::randn({ 4, 32, 3, 3 }), 1.0,
        u + "input_blocks.1.0.in_layers.2.weight");
    pair("lora_unet_down_blocks_0_attentions_0_proj_in", at::randn({ 32, 8 }), at::randn({ 8, 32 }), 4.0,
        u + "input_blocks.1.1.proj_in.weight");
    pair("lora_te_text_model_encoder_layers_0_self_attn_q_proj", at::randn({ 64, 4 }), at::randn({ 4, 64 }), 4.0,
        "cond_stage_model.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight", true);
    // PEFT names, no alpha (scale 1)
    l.add("unet.down_blocks.0.attentions.0.transformer_blocks.0.ff.net.2.lora_B.weight",
        "unet.down_blocks.0.attentions.0.transformer_blocks.0.ff.net.2.lora_A.weight", "", 0.1 * at::randn({ 32, 2 }),
        0.1 * at::randn({ 2, 128 }), 0, u + "input_blocks.1.1.transformer_blocks.0.ff.net.2.weight");
    // diffusers' older layouts: attention processors in the UNet and the text encoder, LoRALinearLayer
    l.add("down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_out_lora.up.weight",
        "down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor.to_out_lora.down.weight", "",
        0.1 * at::randn({ 32, 2 }), 0.1 * at::randn({ 2, 32 }), 0,
        u + "input_blocks.1.1.transformer_blocks.0.attn1.to_out.0.weight");
    l.add("text_encoder.text_model.encoder.layers.1.self_attn.to_v_lora.up.weight",
        "text_encoder.text_model.encoder.layers.1.self_attn.to_v_lora.down.weight", "", 0.1 * at::randn({ 64, 2 }),
        0.1 * at::randn({ 2, 64 }), 0,
        "cond_stage_model.transformer.text_model.encoder.layers.1.self_attn.v_proj.weight", true);
    l.add("text_encoder.text_model.encoder.layers.2.mlp.fc1.lora_linear_layer.up.weight",
        "text_encoder.text_model.encoder.layers.2.mlp.fc1.lora_linear_layer.down.weight", "",
        0.1 * at::randn({ 256, 2 }), 0.1 * at::randn({ 2, 64 }), 0,
        "cond_stage_model.transformer.text_model.encoder.layers.2.mlp.fc1.weight", true);
    return l;
}

fs::path writeTinyLora(const std::string& name)
{
    const fs::path dir = test::tempDir() / "loras";
    fs::create_directories(dir);
    const fs::path p = dir / (name + ".safetensors");
    io::writeSafeTensors(p, tinyLora().tensors);
    return p;
}

pipeline::GenerationRequest request(const std::string& prompt)
{
    pipeline::GenerationRequest r;
    r.prompt = prompt;
    r.negativePrompt = "blurry";
    r.width = r.height = 64;
    r.steps = 3;
    r.seed = 42;
    r.sampler = "DDIM";
    return r;
}

} // namespace

class TestLora : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void kohyaAndDiffusersNamesOnSd1()
    {
        auto m = metaModel("sd1_v1_inference");
        const LoraResolver r(*m);
        const std::string u = "model.diffusion_model.";
        const std::string te = "cond_stage_model.transformer.text_model.encoder.layers.";
        // The diffusers <-> original correspondence of SD1 (kohya's names are the diffusers module paths).
        const std::vector<std::pair<std::string, std::string>> cases {
            { "lora_unet_down_blocks_0_attentions_0_proj_in", u + "input_blocks.1.1.proj_in.weight" },
            { "lora_unet_down_blocks_1_attentions_1_transformer_blocks_0_attn2_to_k",
                u + "input_blocks.5.1.transformer_blocks.0.attn2.to_k.weight" },
            { "lora_unet_down_blocks_2_attentions_0_transformer_blocks_0_attn1_to_out_0",
                u + "input_blocks.7.1.transformer_blocks.0.attn1.to_out.0.weight" },
            { "lora_unet_mid_block_attentions_0_transformer_blocks_0_ff_net_0_proj",
                u + "middle_block.1.transformer_blocks.0.ff.net.0.proj.weight" },
            { "lora_unet_up_blocks_3_attentions_2_transformer_blocks_0_ff_net_2",
                u + "output_blocks.11.1.transformer_blocks.0.ff.net.2.weight" },
            { "lora_unet_up_blocks_1_attentions_0_proj_out", u + "output_blocks.3.1.proj_out.weight" },
            { "lora_unet_down_blocks_2_resnets_1_conv2", u + "input_blocks.8.0.out_layers.3.weight" },
            { "lora_unet_down_blocks_0_resnets_0_time_emb_proj", u + "input_blocks.1.0.emb_layers.1.weight" },
            { "lora_unet_up_blocks_2_resnets_0_conv_shortcut", u + "output_blocks.6.0.skip_connection.weight" },
            { "lora_unet_mid_block_resnets_1_conv1", u + "middle_block.2.in_layers.2.weight" },
            { "lora_unet_down_blocks_0_downsamplers_0_conv", u + "input_blocks.3.0.op.weight" },
            { "lora_unet_up_blocks_0_upsamplers_0_conv", u + "output_blocks.2.1.conv.weight" },
            { "lora_unet_up_blocks_1_upsamplers_0_conv", u + "output_blocks.5.2.conv.weight" },
            { "lora_unet_conv_in", u + "input_blocks.0.0.weight" },
            { "lora_unet_conv_out", u + "out.2.weight" },
            { "lora_unet_time_embedding_linear_2", u + "time_embed.2.weight" },
            { "lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q",
                u + "input_blocks.4.1.transformer_blocks.0.attn1.to_q.weight" },
            { "lora_unet_output_blocks_8_0_skip_connection", u + "output_blocks.8.0.skip_connection.weight" },
            { "lora_te_text_model_encoder_layers_11_self_attn_out_proj", te + "11.self_attn.out_proj.weight" },
            { "lora_te_text_model_encoder_layers_3_mlp_fc2", te + "3.mlp.fc2.weight" },
            { "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_v",
                u + "input_blocks.4.1.transformer_blocks.0.attn1.to_v.weight" },
            { "unet.up_blocks.2.attentions.1.transformer_blocks.0.attn2.to_out.0",
                u + "output_blocks.7.1.transformer_blocks.0.attn2.to_out.0.weight" },
            { "text_encoder.text_model.encoder.layers.5.self_attn.k_proj", te + "5.self_attn.k_proj.weight" },
            { "down_blocks.0.attentions.1.transformer_blocks.0.attn1.to_out.0",
                u + "input_blocks.2.1.transformer_blocks.0.attn1.to_out.0.weight" },
            { "base_model.model.up_blocks.1.attentions.2.proj_in", u + "output_blocks.5.1.proj_in.weight" },
        };
        for (const auto& [module, key] : cases) {
            const auto t = r.resolve(module);
            QVERIFY2(t.has_value(), module.c_str());
            QCOMPARE(QString::fromStdString(t->key), QString::fromStdString(key));
            QCOMPARE(t->rows, int64_t(0));
        }
        for (const char* none :
            { "lora_unet_down_blocks_3_attentions_0_proj_in", "lora_te1_text_model_encoder_layers_0_mlp_fc1",
                "lora_unet_input_blocks_4_1_transformer_blocks_5_attn1_to_q",
                "text_encoder_2.text_model.encoder.layers.0.mlp.fc1" })
            QVERIFY2(!r.resolve(none), none);

        // kohya's standard SD1 LoRA: every linear of the 16 transformers plus their proj_in/proj_out (192 modules) and
        // every attention and MLP linear of the 12 text layers (72).
        std::vector<std::string> unet;
        auto transformer = [&](const std::string& base) {
            for (const char* a : { "attn1", "attn2" })
                for (const char* p : { "to_q", "to_k", "to_v", "to_out_0" })
                    unet.push_back(base + "_transformer_blocks_0_" + a + "_" + p);
            unet.push_back(base + "_transformer_blocks_0_ff_net_0_proj");
            unet.push_back(base + "_transformer_blocks_0_ff_net_2");
            unet.push_back(base + "_proj_in");
            unet.push_back(base + "_proj_out");
        };
        for (int b = 0; b < 3; ++b)
            for (int a = 0; a < 2; ++a)
                transformer("lora_unet_down_blocks_" + std::to_string(b) + "_attentions_" + std::to_string(a));
        transformer("lora_unet_mid_block_attentions_0");
        for (int b = 1; b < 4; ++b)
            for (int a = 0; a < 3; ++a)
                transformer("lora_unet_up_blocks_" + std::to_string(b) + "_attentions_" + std::to_string(a));
        std::set<std::string> targets;
        for (const auto& n : unet) {
            const auto t = r.resolve(n);
            QVERIFY2(t.has_value(), n.c_str());
            QVERIFY2(r.tensor(t->key).dim() >= 2, t->key.c_str());
            targets.insert(t->key);
        }
        QCOMPARE(targets.size(), size_t(192));
        for (int layer = 0; layer < 12; ++layer)
            for (const char* p : { "self_attn_q_proj", "self_attn_k_proj", "self_attn_v_proj", "self_attn_out_proj",
                     "mlp_fc1", "mlp_fc2" }) {
                const auto t = r.resolve("lora_te_text_model_encoder_layers_" + std::to_string(layer) + "_" + p);
                QVERIFY(t.has_value());
                targets.insert(t->key);
            }
        QCOMPARE(targets.size(), size_t(192 + 72));
    }

    void sd2TextEncoderRowsAndLinearProjections()
    {
        auto m = metaModel("sd2_v2_inference_v");
        const LoraResolver r(*m);
        const std::string base = "cond_stage_model.model.transformer.resblocks.";
        const std::vector<std::tuple<std::string, std::string, int64_t, int64_t>> cases {
            { "lora_te_text_model_encoder_layers_0_self_attn_q_proj", base + "0.attn.in_proj_weight", 0, 1024 },
            { "lora_te_text_model_encoder_layers_0_self_attn_k_proj", base + "0.attn.in_proj_weight", 1024, 1024 },
            { "lora_te_text_model_encoder_layers_22_self_attn_v_proj", base + "22.attn.in_proj_weight", 2048, 1024 },
            { "lora_te_text_model_encoder_layers_7_self_attn_out_proj", base + "7.attn.out_proj.weight", 0, 0 },
            { "lora_te_text_model_encoder_layers_7_mlp_fc1", base + "7.mlp.c_fc.weight", 0, 0 },
            { "text_encoder.text_model.encoder.layers.1.mlp.fc2", base + "1.mlp.c_proj.weight", 0, 0 },
            { "lora_unet_down_blocks_0_attentions_0_proj_in", "model.diffusion_model.input_blocks.1.1.proj_in.weight",
                0, 0 },
        };
        for (const auto& [module, key, offset, rows] : cases) {
            const auto t = r.resolve(module);
            QVERIFY2(t.has_value(), module.c_str());
            QCOMPARE(QString::fromStdString(t->key), QString::fromStdString(key));
            QCOMPARE(t->rowOffset, offset);
            QCOMPARE(t->rows, rows);
        }
        QCOMPARE(r.tensor("model.diffusion_model.input_blocks.1.1.proj_in.weight").dim(), int64_t(2)); // SD2: linear
        QVERIFY(
            r.resolve("lora_te_text_model_encoder_layers_23_self_attn_q_proj")); // all 24 layers are in the checkpoint
        QVERIFY(!r.resolve("lora_te_text_model_encoder_layers_24_self_attn_q_proj"));
        QVERIFY(!r.resolve("lora_te_text_model_final_layer_norm"));
    }

    void deltaIsExactAndRestoreIsBitIdentical()
    {
        auto& lm = test::tinySd1();
        const fs::path file = writeTinyLora("exact");
        auto lora = std::make_shared<Lora>(readLora(file, *lm.model));
        QCOMPARE(lora->patches.size(), size_t(8));
        QCOMPARE(lora->textModules, 3);
        QCOMPARE(lora->unetModules, 5);
        QCOMPARE(lora->hash.size(), size_t(12));
        QVERIFY(lora->warnings.empty());

        const auto before = snapshot(*lm.model);
        LoraSet set;
        const double teW = 0.5, unetW = 0.8;
        set.apply(*lm.model, { { lora, teW, unetW } });
        const auto after = snapshot(*lm.model);
        std::set<std::string> changed;
        for (const auto& e : tinyLora().expect) {
            const double w = e.text ? teW : unetW;
            const auto& orig = before.at(e.target);
            auto want = orig + (at::mm(e.up.flatten(1), e.down.flatten(1)) * (e.scale * w)).reshape(orig.sizes());
            QVERIFY2(at::allclose(after.at(e.target), want, 1e-5, 1e-5), e.target.c_str());
            QVERIFY2(!at::equal(after.at(e.target), orig), e.target.c_str());
            changed.insert(e.target);
        }
        for (const auto& [k, t] : before)
            if (!changed.count(k))
                QVERIFY2(at::equal(after.at(k), t), k.c_str());

        // Another set replaces the first (it is not added on top), and restoring gives back every weight bit for bit.
        set.apply(*lm.model, { { lora, 0.0, 1.0 } });
        const auto te = "cond_stage_model.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight";
        QVERIFY(at::equal(snapshot(*lm.model).at(te), before.at(te)));
        set.restore(*lm.model);
        for (const auto& [k, t] : snapshot(*lm.model))
            QVERIFY2(at::equal(t, before.at(k)), k.c_str());
    }

    void a1111HashesTagsAndModuleCounts()
    {
        auto& lm = test::tinySd1();
        const fs::path file = writeTinyLora("hashed");
        // AUTOMATIC1111's hash of a .safetensors LoRA: SHA-256 of the bytes after the 8-byte length and the JSON header
        std::ifstream in(file, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        const std::string bytes = ss.str();
        uint64_t n = 0;
        std::memcpy(&n, bytes.data(), 8);
        const std::string addnet = sha256(bytes.substr(8 + n)).substr(0, 12);
        QVERIFY(addnet != sha256File(file).substr(0, 12));

        pipeline::Generator g(lm.model, lm.tokenizer, lm.info);
        g.setLoraFolders({ file.parent_path() });
        StopToken stop;
        auto r = request("a house on a hill");
        r.loras.push_back({ "hashed", 0.75, 0.75 }); // as --lora hashed:0.75 gives it
        const auto res = g.run(r, {}, stop);
        const auto p = pipeline::parseInfotext(res.metadata[0].at("parameters"));
        QCOMPARE(QString::fromStdString(p.get("Lora hashes")), QString::fromStdString("hashed: " + addnet));
        QCOMPARE(QString::fromStdString(p.prompt), QString("a house on a hill <lora:hashed:0.75>"));
        // the prompt as written reproduces the picture through the infotext alone
        auto again = pipeline::requestFromInfotext(p, request(""));
        const auto replay = g.run(again, {}, stop);
        QVERIFY(replay.images[0].pixels == res.images[0].pixels);
        // how many modules reached each half
        QCOMPARE(res.loras.size(), size_t(1));
        const auto read = models::readLora(file, *lm.model);
        QVERIFY(read.unetModules > 0 && read.textModules > 0);
        QCOMPARE(res.loras[0].unetModules, read.unetModules);
        QCOMPARE(res.loras[0].textModules, read.textModules);
        QCOMPARE(QString::fromStdString(read.hash), QString::fromStdString(addnet));

        // kohya's precomputed sshs_model_hash metadata wins; any other extension hashes the whole file
        const fs::path withMeta = file.parent_path() / "meta.safetensors";
        io::writeSafeTensors(
            withMeta, tinyLora().tensors, { { "sshs_model_hash", "fedcba9876543210fedcba9876543210" } });
        QCOMPARE(QString::fromStdString(models::readLora(withMeta, *lm.model).hash), QString("fedcba987654"));
        const fs::path pt = file.parent_path() / "copy.pt";
        fs::copy_file(file, pt, fs::copy_options::overwrite_existing);
        QCOMPARE(QString::fromStdString(models::loraShortHash(pt, *io::openWeights(pt))),
            QString::fromStdString(sha256File(pt).substr(0, 12)));
        fs::remove(pt);
        fs::remove(withMeta);
    }

    void promptTagsEndToEnd()
    {
        auto& lm = test::tinySd1();
        const fs::path file = writeTinyLora("tinystyle");
        pipeline::Generator g(lm.model, lm.tokenizer, lm.info);
        g.setLoraFolders({ file.parent_path() });
        StopToken stop;
        const auto plain = g.run(request("a house on a hill"), {}, stop);
        // Weight 0: the tag is taken out of the prompt and changes nothing.
        const auto zero = g.run(request("a house <lora:tinystyle:0> on a hill"), {}, stop);
        QVERIFY(zero.images[0].pixels == plain.images[0].pixels);
        const auto styled = g.run(request("a house <lora:tinystyle:1.5> on a hill"), {}, stop);
        QVERIFY(styled.images[0].pixels != plain.images[0].pixels);
        // The next request without the tag gets the model back as it was.
        const auto again = g.run(request("a house on a hill"), {}, stop);
        QVERIFY(again.images[0].pixels == plain.images[0].pixels);
        // GenerationRequest::loras does what the tag does; a path works as a name.
        auto r = request("a house  on a hill");
        r.loras.push_back({ file.string(), 1.5, 1.5 });
        const auto byList = g.run(r, {}, stop);
        QVERIFY(byList.images[0].pixels == styled.images[0].pixels);

        // The metadata keeps the prompt as written and names the LoRA with its hash; the JSON reproduces the image.
        const auto& meta = styled.metadata[0];
        const auto parsed = pipeline::parseInfotext(meta.at("parameters"));
        QCOMPARE(QString::fromStdString(parsed.prompt), QString("a house <lora:tinystyle:1.5> on a hill"));
        const std::string hashes = parsed.get("Lora hashes");
        QVERIFY2(hashes.rfind("tinystyle: ", 0) == 0 && hashes.size() == 11 + 12, hashes.c_str());
        const auto j = nlohmann::json::parse(meta.at("latent_studio"));
        QCOMPARE(j["lora_files"].size(), size_t(1));
        QCOMPARE(QString::fromStdString(j["lora_files"][0]["hash"].get<std::string>()),
            QString::fromStdString(hashes.substr(11)));
        const auto replay = g.run(pipeline::GenerationRequest::fromJson(j), {}, stop);
        QVERIFY(replay.images[0].pixels == styled.images[0].pixels);

        // A text-encoder-only weight changes the picture through the condition alone.
        const auto teOnly = g.run(request("a house <lora:tinystyle:1:0> on a hill"), {}, stop);
        QVERIFY(teOnly.images[0].pixels != plain.images[0].pixels);
        QVERIFY(teOnly.images[0].pixels != styled.images[0].pixels);
    }

    void listingAndLookup()
    {
        const fs::path dir = test::tempDir() / "lora-folder";
        fs::create_directories(dir / "styles");
        test::writeBytes(dir / "b.safetensors", "x");
        test::writeBytes(dir / "styles" / "ink.pt", "x");
        test::writeBytes(dir / "notes.txt", "x");
        const auto files = pipeline::listLoraFiles({ dir, dir / "missing" });
        QCOMPARE(files.size(), size_t(2));
        QCOMPARE(QString::fromStdString(files[0].name), QString("b"));
        QCOMPARE(QString::fromStdString(files[1].name), QString("styles/ink"));
        QCOMPARE(pipeline::findLoraFile("styles/ink", { dir }).value(), dir / "styles" / "ink.pt");
        QCOMPARE(pipeline::findLoraFile("ink", { dir }).value(), dir / "styles" / "ink.pt");
        QVERIFY(!pipeline::findLoraFile("notes", { dir }));
        const auto defaults = pipeline::defaultLoraFolders("/models/sd15.safetensors");
        QCOMPARE(defaults.front(), fs::path("/models/loras"));
    }

    void badFilesAndNamesAreExplained()
    {
        auto& lm = test::tinySd1();
        const fs::path dir = test::tempDir() / "bad-loras";
        fs::create_directories(dir);
        auto message = [&](const std::vector<std::pair<std::string, at::Tensor>>& tensors, const std::string& name) {
            const fs::path p = dir / (name + ".safetensors");
            io::writeSafeTensors(p, tensors);
            return test::errorOf([&] { readLora(p, *lm.model); });
        };
        const std::string k = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k";
        // LyCORIS LoHa
        auto e = message(
            { { k + ".hada_w1_a", at::zeros({ 32, 4 }) }, { k + ".hada_w1_b", at::zeros({ 4, 64 }) } }, "loha");
        QVERIFY2(e.find("loha.safetensors") != std::string::npos && e.find("LoHa") != std::string::npos
                && e.find(k) != std::string::npos,
            e.c_str());
        // made for a model with another context width (SD2's 1024 instead of this model's 64)
        e = message(
            { { k + ".lora_up.weight", at::zeros({ 32, 4 }) }, { k + ".lora_down.weight", at::zeros({ 4, 1024 }) } },
            "sd2");
        QVERIFY2(e.find("sd2.safetensors") != std::string::npos && e.find(k) != std::string::npos
                && e.find("another model") != std::string::npos,
            e.c_str());
        // SDXL names only
        e = message({ { "lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_up.weight", at::zeros({ 64, 4 }) },
                        { "lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_down.weight", at::zeros({ 4, 64 }) } },
            "xl");
        QVERIFY2(e.find("xl.safetensors") != std::string::npos && e.find("none of its 1 modules") != std::string::npos,
            e.c_str());
        // an up weight without its down weight
        e = message({ { k + ".lora_up.weight", at::zeros({ 32, 4 }) } }, "half");
        QVERIFY2(e.find("half.safetensors") != std::string::npos && e.find("no down weight") != std::string::npos,
            e.c_str());
        // not a LoRA at all
        e = message({ { "model.diffusion_model.out.2.weight", at::zeros({ 4, 32, 3, 3 }) } }, "checkpoint");
        QVERIFY2(e.find("no LoRA weights") != std::string::npos, e.c_str());
        e = message({ { k + ".diff", at::zeros({ 32, 64 }) } }, "diff");
        QVERIFY2(e.find("full weight difference") != std::string::npos && e.find(k) != std::string::npos, e.c_str());
        // NaN
        e = message(
            { { k + ".lora_up.weight", at::full({ 32, 4 }, NAN) }, { k + ".lora_down.weight", at::zeros({ 4, 64 }) } },
            "nan");
        QVERIFY2(e.find("NaN") != std::string::npos, e.c_str());
        // Unmatched modules next to matching ones are reported, not applied.
        {
            const fs::path p = dir / "partial.safetensors";
            io::writeSafeTensors(p,
                { { k + ".lora_up.weight", at::zeros({ 32, 4 }) }, { k + ".lora_down.weight", at::zeros({ 4, 64 }) },
                    { "lora_unet_down_blocks_3_attentions_0_proj_in.lora_up.weight", at::zeros({ 8, 4 }) },
                    { "lora_unet_down_blocks_3_attentions_0_proj_in.lora_down.weight", at::zeros({ 4, 8 }) } });
            const auto l = readLora(p, *lm.model);
            QCOMPARE(l.patches.size(), size_t(1));
            QCOMPARE(l.warnings.size(), size_t(1));
            QVERIFY(l.warnings[0].find("1 of 2 modules") != std::string::npos);
        }

        // Hostile names: a 300 000-character module and key are left out, not matched (no regex sees them).
        {
            const std::string huge(300000, 'a');
            const fs::path p = dir / "huge.safetensors";
            io::writeSafeTensors(p,
                { { k + ".lora_up.weight", at::zeros({ 32, 4 }) }, { k + ".lora_down.weight", at::zeros({ 4, 64 }) },
                    { "lora_unet_" + huge + ".lora_up.weight", at::zeros({ 8, 4 }) },
                    { "lora_unet_" + huge + ".lora_down.weight", at::zeros({ 4, 8 }) },
                    { "unet." + huge + ".processor.to_q_lora.up.weight", at::zeros({ 1 }) } });
            const auto l = readLora(p, *lm.model);
            QCOMPARE(l.patches.size(), size_t(1));
            QCOMPARE(l.warnings.size(), size_t(2));
        }

        // Requests: an unknown name and a malformed tag are problems found before any work.
        pipeline::Generator g(lm.model, lm.tokenizer, lm.info);
        g.setLoraFolders({ dir });
        auto problems = g.check(request("a house <lora:nosuchlora:0.7>"));
        QCOMPARE(problems.size(), size_t(1));
        QCOMPARE(QString::fromStdString(problems[0].field), QString("lora"));
        QVERIFY(problems[0].message.find("nosuchlora") != std::string::npos
            && problems[0].message.find(dir.string()) != std::string::npos);
        auto v = request("a house <lora:x:strong>").validate();
        QCOMPARE(v.size(), size_t(1));
        QCOMPARE(QString::fromStdString(v[0].field), QString("prompt"));
        QVERIFY2(v[0].message.find("'strong' is not a number") != std::string::npos, v[0].message.c_str());
        StopToken stop;
        const auto err = test::errorOf([&] { g.run(request("a house <lora:loha>"), {}, stop); });
        QVERIFY2(err.find("LoHa") != std::string::npos, err.c_str());
        // After a refused LoRA the model is unchanged: the same request without it gives the plain picture.
        pipeline::Generator fresh(lm.model, lm.tokenizer, lm.info);
        QVERIFY(g.run(request("a house"), {}, stop).images[0].pixels
            == fresh.run(request("a house"), {}, stop).images[0].pixels);
    }
};

QTEST_GUILESS_MAIN(TestLora)
#include "tst_lora.moc"
