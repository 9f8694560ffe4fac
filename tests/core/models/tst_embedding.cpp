// Textual-inversion embeddings: a prompt word equal to an embedding's file name stands for its vectors (whole words,
// any case, weights apply), the vectors reach the text encoder as extra token rows, an embedding holding the token
// vectors of "red house" gives exactly the picture of "red house", and bad files are refused naming the file.
#include "TestUtil.h"
#include "TinySd1.h"

#include "io/SafeTensors.h"
#include "models/TextualInversion.h"
#include "pipeline/Generator.h"
#include "pipeline/Infotext.h"
#include "pipeline/LoraFiles.h"
#include "pipeline/ModelLoading.h"
#include "text/PromptWeights.h"
#include "util/Error.h"
#include "util/Sha256.h"

#include <QtTest/QtTest>

using namespace ls;
namespace fs = std::filesystem;

namespace {

pipeline::GenerationRequest request(const std::string& prompt)
{
    pipeline::GenerationRequest r;
    r.prompt = prompt;
    r.negativePrompt = "blurry";
    r.width = r.height = 64;
    r.steps = 3;
    r.seed = 11;
    r.sampler = "DDIM";
    return r;
}

} // namespace

class TestEmbedding : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void wordsBecomeTheirVectors()
    {
        const auto& tok = *test::tinySd1().tokenizer;
        const std::vector<text::EmbeddingToken> emb { { "EasyNeg", 49408, 3 }, { "EasyNeg-v2", 49411, 1 } };
        const auto plain = text::tokenizePrompt(tok, "a cat, ");
        const auto with = text::tokenizePrompt(
            tok, "a cat, easyneg (EASYNEG-v2:1.5) easynegative", text::ClipTokenizer::kEos, 20, &emb);
        const auto cat = tok.encode("a cat,");
        const auto tail = tok.encode("easynegative");
        std::vector<int> want { text::ClipTokenizer::kBos };
        want.insert(want.end(), cat.begin(), cat.end());
        for (int id : { 49408, 49409, 49410, 49411 })
            want.push_back(id);
        want.insert(want.end(), tail.begin(), tail.end());
        want.push_back(text::ClipTokenizer::kEos);
        QCOMPARE(
            std::vector<int>(with[0].tokens.begin(), with[0].tokens.begin() + static_cast<std::ptrdiff_t>(want.size())),
            want);
        const size_t at = 1 + cat.size();
        QCOMPARE(with[0].multipliers[at], 1.0f);
        QCOMPARE(with[0].multipliers[at + 3], 1.5f); // the weight of the parenthesis
        QCOMPARE(plain[0].tokens[at], text::ClipTokenizer::kEos);
        QCOMPARE(text::embeddingNamesIn("Use EasyNeg here, not easynegative", { "easynegative", "EasyNeg", "other" }),
            (std::vector<std::string> { "easynegative", "EasyNeg" }));
        QVERIFY(text::embeddingNamesIn("easyneg-v2 only", { "EasyNeg" }).empty());
    }

    void vectorsOfRedHouseGiveTheRedHousePicture()
    {
        auto& lm = test::tinySd1();
        const fs::path dir = test::tempDir() / "embeddings";
        fs::create_directories(dir);
        // The token vectors of "red house" as a two-vector embedding named "tinyword"
        const auto ids = lm.tokenizer->encode("red house");
        QCOMPARE(ids.size(), size_t(2));
        const auto table = lm.model->clip->token_embedding->weight;
        const auto vectors = at::stack({ table[ids[0]], table[ids[1]] }).clone();
        io::writeSafeTensors(dir / "tinyword.safetensors", { { "emb_params", vectors } });
        pipeline::Generator g(lm.model, lm.tokenizer, lm.info);
        g.setEmbeddingFolders({ dir });
        StopToken stop;
        const auto want = g.run(request("a red house on a hill"), {}, stop);
        const auto got = g.run(request("a tinyword on a hill"), {}, stop);
        QVERIFY(got.images[0].pixels == want.images[0].pixels);
        const auto other = g.run(request("a house on a hill"), {}, stop);
        QVERIFY(other.images[0].pixels != want.images[0].pixels);
        const auto p = pipeline::parseInfotext(got.metadata[0].at("parameters"));
        // A1111 writes the first 12 hex digits of the file's SHA-256
        QCOMPARE(QString::fromStdString(p.get("TI hashes")),
            QString::fromStdString("tinyword: " + sha256File(dir / "tinyword.safetensors").substr(0, 12)));
        QVERIFY(pipeline::parseInfotext(other.metadata[0].at("parameters")).get("TI hashes").empty());

        // diffusers' learned_embeds: one tensor named after the token, one vector
        io::writeSafeTensors(dir / "redword.safetensors", { { "<redword>", table[ids[0]].clone() } });
        const auto red = g.run(request("a redword house on a hill"), {}, stop);
        QVERIFY(red.images[0].pixels == want.images[0].pixels);
    }

    void badFilesAreRefused()
    {
        const fs::path dir = test::tempDir() / "bad-embeddings";
        fs::create_directories(dir);
        auto message = [&](const std::string& name, const std::vector<std::pair<std::string, at::Tensor>>& t) {
            io::writeSafeTensors(dir / name, t);
            return test::errorOf([&] { models::readEmbedding(dir / name, 64); });
        };
        auto e = message("sd15.safetensors", { { "emb_params", at::zeros({ 4, 768 }) } });
        QVERIFY2(e.find("sd15.safetensors") != std::string::npos && e.find("768") != std::string::npos
                && e.find("another model") != std::string::npos,
            e.c_str());
        e = message("xl.safetensors", { { "clip_l", at::zeros({ 2, 768 }) }, { "clip_g", at::zeros({ 2, 1280 }) } });
        QVERIFY2(e.find("SDXL") != std::string::npos, e.c_str());
        e = message("two.safetensors", { { "a", at::zeros({ 2, 64 }) }, { "b", at::zeros({ 2, 64 }) } });
        QVERIFY2(e.find("not a textual-inversion embedding") != std::string::npos, e.c_str());
        e = message("long.safetensors", { { "emb_params", at::zeros({ 80, 64 }) } });
        QVERIFY2(e.find("75-token") != std::string::npos, e.c_str());
        QCOMPARE(models::readEmbedding(dir / "sd15.safetensors", 768).sizes().vec(), (std::vector<int64_t> { 4, 768 }));

        // A generation whose prompt names a bad embedding fails naming it, and the next one works.
        auto& lm = test::tinySd1();
        pipeline::Generator g(lm.model, lm.tokenizer, lm.info);
        g.setEmbeddingFolders({ dir });
        StopToken stop;
        e = test::errorOf([&] { g.run(request("a sd15 house"), {}, stop); });
        QVERIFY2(e.find("sd15.safetensors") != std::string::npos, e.c_str());
        QCOMPARE(g.run(request("a house"), {}, stop).images.size(), size_t(1));
        QCOMPARE(pipeline::defaultEmbeddingFolders("/m/sd.safetensors").front(), fs::path("/m/embeddings"));
    }
};

QTEST_GUILESS_MAIN(TestEmbedding)
#include "tst_embedding.moc"
