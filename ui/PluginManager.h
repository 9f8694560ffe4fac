#pragma once
// Finds and loads the upscaler plugins. A plugin that fails to load (not a library, wrong interface, missing symbols)
// is listed with the reason and never stops the app.
#include "latent-studio/UpscalerPlugin.h"

#include <QStringList>

namespace ls::ui {

struct PluginReport {
    QStringList loaded; // plugin names
    QStringList failed; // "file: reason"
    QList<plugin::UpscalerInfo> upscalers; // from every loaded plugin, in load order
};

// $LS_PLUGIN_PATH (colon-separated), then <program>/../plugins (the build tree), then
// <program>/../lib/latent-studio/plugins (installed).
QStringList defaultPluginDirs();
PluginReport loadUpscalerPlugins(const QStringList& dirs);

} // namespace ls::ui
