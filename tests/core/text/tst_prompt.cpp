// A1111 prompt attention syntax and 75-token chunking.
#include "TestUtil.h"

#include "text/ClipTokenizer.h"
#include "text/LoraTags.h"
#include "text/PromptWeights.h"
#include "text/TextFix.h"
#include "util/Error.h"

#include <QtTest/QtTest>

#include <nlohmann/json.hpp>

#include <fstream>

using namespace ls;
using text::WeightedText;

namespace {
bool same(const std::vector<WeightedText>& got, const std::vector<WeightedText>& want)
{
    if (got.size() != want.size())
        return false;
    for (size_t i = 0; i < got.size(); ++i)
        if (got[i].text != want[i].text || std::abs(got[i].weight - want[i].weight) > 1e-9)
            return false;
    return true;
}
std::string show(const std::vector<WeightedText>& v)
{
    std::string s;
    for (auto& w : v)
        s += "[" + w.text + ":" + std::to_string(w.weight) + "]";
    return s;
}
} // namespace

class TestPrompt : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void loraTags()
    {
        using text::LoraTag;
        std::vector<LoraTag> tags;
        const std::string rest
            = text::extractLoraTags("a cat <lora:ink>, <lora:styles/pencil:0.5> (red:1.2) <lyco:grain:0.3:1.2>"
                                    " <lora:a:unet=0.25> <lora:b:te=0.2> <lora:c:0.4:te=0.9>",
                &tags);
        QCOMPARE(QString::fromStdString(rest), QString("a cat ,  (red:1.2)    "));
        const std::vector<LoraTag> want { { "ink", 1.0, 1.0 }, { "styles/pencil", 0.5, 0.5 }, { "grain", 0.3, 1.2 },
            { "a", 1.0, 0.25 }, { "b", 0.2, 0.2 }, { "c", 0.9, 0.9 } };
        QCOMPARE(tags.size(), want.size());
        for (size_t i = 0; i < want.size(); ++i)
            QVERIFY2(tags[i] == want[i], tags[i].name.c_str());
        QCOMPARE(QString::fromStdString(text::extractLoraTags("no tags <here> (x:1.1)", nullptr)),
            QString("no tags <here> (x:1.1)"));
        for (const char* bad : { "<lora::1>", "<lora:a:much>", "<lora:a:1:2:3>", "<lora:a:gain=2>", "<lora:a:1" }) {
            const auto e = test::errorOf([&] { text::extractLoraTags(bad, nullptr); });
            QVERIFY2(!e.empty(), bad);
        }
        QVERIFY(test::errorOf([] { text::extractLoraTags("<lora:a:much>", nullptr); }).find("'much' is not a number")
            != std::string::npos);
    }

    void attention_data()
    {
        QTest::addColumn<QString>("prompt");
        QTest::addColumn<QString>("expected"); // text|weight;...
        // The examples of A1111's parse_prompt_attention docstring.
        QTest::newRow("plain") << "normal text"
                               << "normal text|1";
        QTest::newRow("important") << "an (important) word"
                                   << "an |1;important|1.1; word|1";
        QTest::newRow("unbalanced") << "(unbalanced"
                                    << "unbalanced|1.1";
        QTest::newRow("literal") << "\\(literal\\]"
                                 << "(literal]|1";
        QTest::newRow("parens") << "(unnecessary)(parens)"
                                << "unnecessaryparens|1.1";
        QTest::newRow("mixed")
            << "a (((house:1.3)) [on] a (hill:0.5), sun, (((sky)))."
            << "a |1;house|1.5730000000000004; |1.1;on|1; a |1.1;hill|0.55;, sun, |1.1;sky|1.4641000000000006;.|1.1";
        QTest::newRow("break") << "a cat BREAK a dog"
                               << "a cat|1;BREAK|-1;a dog|1";
        QTest::newRow("square") << "[faded]"
                                << "faded|0.9090909090909091";
        QTest::newRow("empty") << ""
                               << "|1";
        QTest::newRow("stray close") << "a) b"
                                     << "a) b|1";
        QTest::newRow("weight no bracket") << "x:1.2) y"
                                           << "x:1.2) y|1";
    }
    void attention()
    {
        QFETCH(QString, prompt);
        QFETCH(QString, expected);
        std::vector<WeightedText> want;
        for (const auto& part : expected.split(';')) {
            auto kv = part.split('|');
            want.push_back({ kv[0].toStdString(), kv[1].toDouble() });
        }
        auto got = text::parsePromptAttention(prompt.toStdString());
        QVERIFY2(same(got, want), show(got).c_str());
    }

    // ftfy.fix_text repeats its fixes until the text stops changing, line by line, and unescapes HTML only until the
    // first line holding a literal '<' (expected values worked out from ftfy 6's fix_text / fix_and_explain).
    void ftfyUnescapesUntilStable()
    {
        QCOMPARE(text::fixText("&gt;&gt; arrows &lt;&lt; &amp;amp;"), std::string(">> arrows << &"));
        QCOMPARE(text::fixText("&amp;lt;b&amp;gt;"), std::string("<b>"));
        QCOMPARE(text::fixText("a < b &amp; c"), std::string("a < b &amp; c"));
        QCOMPARE(text::fixText("x &amp;amp;\ny < z &amp;\n&amp;"), std::string("x &\ny < z &amp;\n&amp;"));
        auto tok = text::ClipTokenizer::fromFile(test::sharedDir() / "data" / "clip" / "bpe_simple_vocab_16e6.txt.gz");
        QCOMPARE(tok.encode("fish &amp;amp; chips", text::ClipTokenizer::Cleaning::HuggingFace),
            tok.encode("fish & chips", text::ClipTokenizer::Cleaning::HuggingFace));
    }

    void chunking()
    {
        auto tok = text::ClipTokenizer::fromFile(test::sharedDir() / "data" / "clip" / "bpe_simple_vocab_16e6.txt.gz");
        auto one = text::tokenizePrompt(tok, "a (red:1.5) cat");
        QCOMPARE(one.size(), size_t(1));
        QCOMPARE(one[0].tokens.size(), size_t(77));
        QCOMPARE(one[0].tokens.front(), 49406);
        QCOMPARE(one[0].tokens[4], 49407); // a red cat -> 3 tokens then EOS padding
        QCOMPARE(one[0].multipliers[2], 1.5f);
        QCOMPARE(one[0].multipliers[1], 1.0f);
        // 100 words without commas -> two chunks.
        std::string longPrompt;
        for (int i = 0; i < 100; ++i)
            longPrompt += "cat ";
        auto two = text::tokenizePrompt(tok, longPrompt);
        QCOMPARE(two.size(), size_t(2));
        QCOMPARE(two[1].tokens[1 + 24], 2368); // 'cat</w>' is token 2368; 25 tokens in the second chunk
        QCOMPARE(two[1].tokens[1 + 25], 49407);
        // A comma within 20 tokens of the limit moves the tail to the next chunk.
        std::string commas;
        for (int i = 0; i < 70; ++i)
            commas += "cat ";
        commas += ", dog dog dog dog dog dog dog dog dog dog";
        auto moved = text::tokenizePrompt(tok, commas);
        QCOMPARE(moved.size(), size_t(2));
        QCOMPARE(moved[0].tokens[71], tok.encode(",")[0]);
        QCOMPARE(moved[0].tokens[72], 49407);
        // BREAK forces a new chunk; the empty prompt is one chunk.
        QCOMPARE(text::tokenizePrompt(tok, "a BREAK b").size(), size_t(2));
        QCOMPARE(text::tokenizePrompt(tok, "").size(), size_t(1));
    }

    void huggingFaceVocabulary()
    {
        // A diffusers tokenizer/ folder holds vocab.json + merges.txt instead of the gzipped BPE file. Write that pair
        // from the OpenAI file the way Hugging Face converted it, then both tokenizers must agree on every text.
        const auto gz = test::sharedDir() / "data" / "clip" / "bpe_simple_vocab_16e6.txt.gz";
        QProcess gunzip;
        gunzip.start("gzip", { "-dc", QString::fromStdString(gz.string()) });
        QVERIFY(gunzip.waitForFinished(60000));
        const QStringList lines = QString::fromUtf8(gunzip.readAllStandardOutput()).split('\n');
        const int mergeCount = 49152 - 256 - 2;
        QVERIFY(lines.size() > mergeCount);
        // bytes_to_unicode, in its dict order
        std::vector<int> bs, cs;
        for (int b = '!'; b <= '~'; ++b)
            bs.push_back(b);
        for (int b = 0xA1; b <= 0xAC; ++b)
            bs.push_back(b);
        for (int b = 0xAE; b <= 0xFF; ++b)
            bs.push_back(b);
        cs = bs;
        for (int b = 0, n = 0; b < 256; ++b)
            if (std::find(bs.begin(), bs.end(), b) == bs.end()) {
                bs.push_back(b);
                cs.push_back(256 + n++);
            }
        std::vector<std::string> vocab;
        for (int c : cs)
            vocab.push_back(QString(QChar(c)).toStdString());
        for (size_t i = 0, n = vocab.size(); i < n; ++i)
            vocab.push_back(vocab[i] + "</w>");
        const auto dir = test::tempDir() / "tokenizer";
        std::filesystem::create_directories(dir);
        {
            std::ofstream merges(dir / "merges.txt");
            merges << "#version: 0.2\n";
            for (int i = 1; i <= mergeCount; ++i) {
                merges << lines[i].toStdString() << "\n";
                vocab.push_back(lines[i].toStdString());
                vocab.back().erase(vocab.back().find(' '), 1);
            }
        }
        vocab.push_back("<|startoftext|>");
        vocab.push_back("<|endoftext|>");
        nlohmann::json j = nlohmann::json::object();
        for (size_t i = 0; i < vocab.size(); ++i)
            j[vocab[i]] = static_cast<int>(i);
        QCOMPARE(j.size(), size_t(49408));
        std::ofstream(dir / "vocab.json") << j.dump();

        auto openai = text::ClipTokenizer::fromFile(gz);
        auto hf = text::ClipTokenizer::find({ test::tempDir() / "nowhere", dir });
        QCOMPARE(hf.vocabSize(), openai.vocabSize());
        QCOMPARE(hf.encode("a photo of a cat"), (std::vector<int> { 320, 1125, 539, 320, 2368 }));
        for (const char* t : { "A (red:1.5) Cat, sitting on a mat!", "naïve café — 東京 🙂",
                 "<|endoftext|> don't", "  lots   of\tspace " })
            QCOMPARE(hf.encode(t), openai.encode(t));
        QCOMPARE(hf.decode(hf.encode("a photo of a cat")), openai.decode(openai.encode("a photo of a cat")));

        // A broken vocab.json is refused with its path and the cause.
        std::ofstream(dir / "vocab.json") << R"({"a": "one"})";
        try {
            text::ClipTokenizer::fromHuggingFace(dir / "vocab.json", dir / "merges.txt");
            QFAIL("a vocab.json with a string id was accepted");
        } catch (const Error& e) {
            QVERIFY2(
                QString(e.what()).contains("vocab.json") && QString(e.what()).contains("not an integer"), e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestPrompt)
#include "tst_prompt.moc"
