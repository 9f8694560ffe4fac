// Project files (project.json of a .lsproj folder).
#include "Project.h"

#include <QByteArray>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    try {
        (void)ls::ui::parseProjectJson(QByteArray(reinterpret_cast<const char*>(data), static_cast<qsizetype>(size)),
            QStringLiteral("project.json"));
    } catch (const std::exception&) {
    }
    return 0;
}
