// Plain Lanczos resampling (no model): 2x or 4x.
#include "latent-studio/UpscalerPlugin.h"

#include <QObject>

class LanczosPlugin : public QObject, public ls::plugin::UpscalerPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID LS_UPSCALER_PLUGIN_IID FILE "lanczos.json")
    Q_INTERFACES(ls::plugin::UpscalerPlugin)
public:
    QString pluginName() const override { return QStringLiteral("Lanczos"); }
    QList<ls::plugin::UpscalerInfo> upscalers() const override
    {
        return { { QStringLiteral("lanczos"), QStringLiteral("Lanczos"),
            QStringLiteral("Lanczos-3 resampling, no model"), QStringLiteral("lanczos"), { 2, 4 } } };
    }
};

#include "LanczosPlugin.moc"
