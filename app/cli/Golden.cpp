// `latent-cli golden DIR...`: runs every golden case folder (case.json) against the engine and prints one line per
// case, then "N passed, M failed". A case kind the runner does not know counts as failed.
#include "cli/Commands.h"
#include "cli/GoldenCases.h"

#include "util/Error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

namespace ls::cli {

namespace fs = std::filesystem;

static void collectCases(const fs::path& dir, std::vector<fs::path>& out)
{
    std::error_code ec;
    if (fs::is_regular_file(dir / "case.json", ec)) {
        out.push_back(dir);
        return;
    }
    std::vector<fs::path> subs;
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.is_directory())
            subs.push_back(e.path());
    std::sort(subs.begin(), subs.end());
    for (const auto& s : subs)
        collectCases(s, out);
}

int runGolden(const std::vector<std::string>& dirs, bool verbose)
{
    std::vector<fs::path> cases;
    for (const auto& d : dirs) {
        if (!fs::is_directory(d)) {
            std::fprintf(stderr, "latent-cli golden: %s: not a folder\n", d.c_str());
            return 2;
        }
        collectCases(d, cases);
    }
    int passed = 0, failed = 0;
    for (const auto& dir : cases) {
        std::string kind = "?";
        GoldenResult r;
        try {
            std::ifstream in(dir / "case.json");
            nlohmann::json cj = nlohmann::json::parse(in);
            kind = cj.value("kind", std::string("?"));
            r = runGoldenCase(dir, cj, nullptr);
        } catch (const std::exception& e) {
            r.ok = false;
            r.message = e.what();
        }
        (r.ok ? passed : failed)++;
        std::printf("%s %s %s max_err=%.3g tol=%s%s%s\n", r.ok ? "PASS" : "FAIL", dir.filename().c_str(), kind.c_str(),
            r.maxErr, r.tol.c_str(), r.message.empty() ? "" : " :: ", r.message.c_str());
        if (verbose)
            for (const auto& line : r.details)
                std::printf("    %s\n", line.c_str());
        std::fflush(stdout);
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}

} // namespace ls::cli
