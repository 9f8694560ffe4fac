#include "PluginManager.h"

#include <QCoreApplication>
#include <QDir>
#include <QPluginLoader>

namespace ls::ui {

QStringList defaultPluginDirs()
{
    QStringList dirs = qEnvironmentVariable("LS_PLUGIN_PATH").split(QLatin1Char(':'), Qt::SkipEmptyParts);
    const QString exe = QCoreApplication::applicationDirPath();
    dirs << exe + QStringLiteral("/../plugins") << exe + QStringLiteral("/../lib/latent-studio/plugins");
    return dirs;
}

PluginReport loadUpscalerPlugins(const QStringList& dirs)
{
    PluginReport r;
    QStringList seen;
    for (const QString& d : dirs) {
        const QDir dir(d);
        if (!dir.exists())
            continue;
        for (const QFileInfo& fi : dir.entryInfoList({ QStringLiteral("*.so") }, QDir::Files, QDir::Name)) {
            const QString path = fi.canonicalFilePath();
            if (seen.contains(path) || seen.contains(fi.fileName()))
                continue; // the same plugin found twice (build tree and install)
            seen << path << fi.fileName();
            QPluginLoader loader(path);
            QObject* instance = loader.instance();
            if (!instance) {
                r.failed << fi.filePath() + QStringLiteral(": ") + loader.errorString();
                continue;
            }
            auto* plugin = qobject_cast<plugin::UpscalerPlugin*>(instance);
            if (!plugin) {
                r.failed << fi.filePath()
                        + QStringLiteral(": not an upscaler plugin (interface " LS_UPSCALER_PLUGIN_IID ")");
                loader.unload();
                continue;
            }
            r.loaded << plugin->pluginName();
            r.upscalers << plugin->upscalers();
        }
    }
    return r;
}

} // namespace ls::ui
