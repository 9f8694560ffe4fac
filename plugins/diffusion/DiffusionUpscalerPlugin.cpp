// Diffusion upscalers: the bundled 4x latent super-resolution model (always there), and every LDM-SR / SD x4
// upscaler checkpoint named in $LS_UPSCALER_MODELS (colon-separated paths).
#include "latent-studio/UpscalerPlugin.h"

#include <QFileInfo>
#include <QObject>

class DiffusionUpscalerPlugin : public QObject, public ls::plugin::UpscalerPlugin {
    Q_OBJECT
    Q_PLUGIN_METADATA(IID LS_UPSCALER_PLUGIN_IID FILE "diffusion.json")
    Q_INTERFACES(ls::plugin::UpscalerPlugin)
public:
    QString pluginName() const override { return QStringLiteral("Diffusion upscalers"); }
    QList<ls::plugin::UpscalerInfo> upscalers() const override
    {
        QList<ls::plugin::UpscalerInfo> out { { QStringLiteral("bundled-sr4"), QStringLiteral("Latent SR 4x (bundled)"),
            QStringLiteral("The bundled 4x super-resolution diffusion model, tiled for any size"),
            QStringLiteral("bundled:default-sr"), { 4 } } };
        for (const QString& p : qEnvironmentVariable("LS_UPSCALER_MODELS").split(QLatin1Char(':'), Qt::SkipEmptyParts))
            out.push_back({ QStringLiteral("file:") + p, QFileInfo(p).fileName(),
                QStringLiteral("Diffusion upscaler %1").arg(p), p, { 4 } });
        return out;
    }
};

#include "DiffusionUpscalerPlugin.moc"
