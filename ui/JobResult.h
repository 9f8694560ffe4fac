#pragma once
#include <QImage>
#include <QList>
#include <QMetaType>
#include <QString>
#include <QStringList>

namespace ls::ui {

// What a finished job hands back across the thread: each picture with its AUTOMATIC1111 parameters text, its Latent
// Studio settings (the JSON written into the PNG) and its seed, and the engine's warnings.
struct JobResult {
    struct Picture {
        QImage image;
        QString parameters;
        QString settings;
        qint64 seed = -1;
    };
    QList<Picture> pictures;
    QStringList warnings;
};

} // namespace ls::ui

Q_DECLARE_METATYPE(ls::ui::JobResult)
