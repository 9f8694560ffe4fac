#pragma once
// The upscaler plugin interface (Qt plugins loaded with QPluginLoader from the plugin folders; see ui/PluginManager).
// It sits below ui/: plugins build against this header (CMake target ls_plugin_api) and Qt Core alone.
// A plugin offers one or more upscalers; each says which engine runs it: "lanczos" (plain resampling, no model) or a
// model path the engine loads (a file, or "bundled:NAME" for a model that ships with the app). Plugins are small and
// torch-free: the engine on the worker thread does the work, with progress, previews and cancellation like any job.
#include <QList>
#include <QString>
#include <QtPlugin>

namespace ls::plugin {

struct UpscalerInfo {
    QString id; // stable, e.g. "lanczos", "bundled-sr4"
    QString name; // shown in the UI
    QString description;
    QString engineModel; // "lanczos" or a model path / "bundled:NAME"
    QList<int> factors; // supported scale factors
};

class UpscalerPlugin {
public:
    virtual ~UpscalerPlugin() = default;
    virtual QString pluginName() const = 0;
    virtual QList<UpscalerInfo> upscalers() const = 0;
};

} // namespace ls::plugin

#define LS_UPSCALER_PLUGIN_IID "io.latentstudio.UpscalerPlugin/1.0"
Q_DECLARE_INTERFACE(ls::plugin::UpscalerPlugin, LS_UPSCALER_PLUGIN_IID)
