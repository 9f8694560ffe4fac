#include "Project.h"

#include <QBuffer>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSaveFile>

#include <cmath>

namespace ls::ui {

namespace {

constexpr int kFormat = 1;
constexpr int kMaxSide = 32768;

QByteArray pngBytes(const QImage& img)
{
    QByteArray bytes;
    QBuffer buf(&bytes);
    buf.open(QIODevice::WriteOnly);
    if (!img.save(&buf, "PNG"))
        throw ProjectError("could not encode an image as PNG");
    return bytes;
}

QImage readPng(const QString& path, bool required)
{
    if (!QFileInfo::exists(path)) {
        if (required)
            throw ProjectError((path + QStringLiteral(": missing")).toStdString());
        return {};
    }
    QImage img;
    if (!img.load(path, "PNG"))
        throw ProjectError((path + QStringLiteral(": not a readable PNG image")).toStdString());
    return img;
}

[[noreturn]] void bad(const QString& where, const QString& field, const QString& cause)
{
    throw ProjectError((where + QStringLiteral(": ") + field + QStringLiteral(": ") + cause).toStdString());
}

QString controlFile(int index) { return QStringLiteral("control-%1.png").arg(index); }

// One control layer's settings (its image is read by loadProject).
ControlLayer parseControl(const QJsonValue& v, const QString& where, const QString& field)
{
    if (!v.isObject())
        bad(where, field, QStringLiteral("must be an object"));
    const QJsonObject o = v.toObject();
    ControlLayer c;
    c.model = o.value(QStringLiteral("model")).toString();
    c.preprocessor = o.value(QStringLiteral("preprocessor")).toString(QStringLiteral("none"));
    static const QStringList known { QStringLiteral("none"), QStringLiteral("canny"), QStringLiteral("invert"),
        QStringLiteral("inpaint"), QStringLiteral("tile") };
    if (!known.contains(c.preprocessor))
        bad(where, field + QStringLiteral(".preprocessor"),
            QStringLiteral("'%1' is not one of %2").arg(c.preprocessor, known.join(QStringLiteral(", "))));
    auto num = [&](const char* key, double def, double lo, double hi) {
        const QJsonValue n = o.value(QLatin1String(key));
        if (n.isUndefined())
            return def;
        if (!n.isDouble() || n.toDouble() < lo || n.toDouble() > hi)
            bad(where, field + QLatin1Char('.') + QLatin1String(key),
                QStringLiteral("must be a number from %1 to %2").arg(lo).arg(hi));
        return n.toDouble();
    };
    c.strength = num("strength", 1.0, 0, 2);
    c.start = num("start", 0.0, 0, 1);
    c.end = num("end", 1.0, 0, 1);
    c.opacity = num("opacity", 0.6, 0, 1);
    c.guessMode = o.value(QStringLiteral("guess_mode")).toBool(false);
    c.visible = o.value(QStringLiteral("visible")).toBool(true);
    return c;
}

} // namespace

void writeFileAtomically(const QString& path, const QByteArray& bytes)
{
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly))
        throw ProjectError((path + QStringLiteral(": cannot write: ") + f.errorString()).toStdString());
    if (f.write(bytes) != bytes.size()) {
        f.cancelWriting();
        throw ProjectError((path + QStringLiteral(": write failed: ") + f.errorString()).toStdString());
    }
    if (!f.commit()) // flush, fsync, rename over the old file
        throw ProjectError((path + QStringLiteral(": could not commit: ") + f.errorString()).toStdString());
}

void saveProject(const QString& dirPath, const ProjectData& d)
{
    QDir dir(dirPath);
    if (!dir.exists() && !QDir().mkpath(dirPath))
        throw ProjectError((dirPath + QStringLiteral(": cannot create the project folder")).toStdString());
    if (!dir.exists(QStringLiteral("history")) && !dir.mkpath(QStringLiteral("history")))
        throw ProjectError((dirPath + QStringLiteral("/history: cannot create")).toStdString());
    if (!d.image.isNull())
        writeFileAtomically(dir.filePath(QStringLiteral("image.png")), pngBytes(d.image));
    if (!d.mask.isNull())
        writeFileAtomically(
            dir.filePath(QStringLiteral("mask.png")), pngBytes(d.mask.convertToFormat(QImage::Format_Grayscale8)));
    else
        QFile::remove(dir.filePath(QStringLiteral("mask.png")));

    QJsonArray history;
    for (const auto& h : d.history) {
        const QFileInfo src(h.file);
        QString rel = dir.relativeFilePath(src.absoluteFilePath());
        if (rel.startsWith(QStringLiteral(".."))) { // outside the project: copy it in
            rel = QStringLiteral("history/") + src.fileName();
            const QString dest = dir.filePath(rel);
            if (!QFileInfo::exists(dest)) {
                QFile in(src.absoluteFilePath());
                if (!in.open(QIODevice::ReadOnly))
                    continue; // the original vanished; the entry cannot be kept
                writeFileAtomically(dest, in.readAll());
            }
        }
        history.append(QJsonObject { { QStringLiteral("file"), rel }, { QStringLiteral("parameters"), h.parameters },
            { QStringLiteral("settings"), h.settings } });
    }
    QJsonArray controls;
    for (int i = 0; i < d.controls.size(); ++i) {
        const ControlLayer& c = d.controls[i];
        writeFileAtomically(dir.filePath(controlFile(i)), pngBytes(c.image));
        controls.append(
            QJsonObject { { QStringLiteral("model"), c.model }, { QStringLiteral("preprocessor"), c.preprocessor },
                { QStringLiteral("strength"), c.strength }, { QStringLiteral("start"), c.start },
                { QStringLiteral("end"), c.end }, { QStringLiteral("guess_mode"), c.guessMode },
                { QStringLiteral("visible"), c.visible }, { QStringLiteral("opacity"), c.opacity } });
    }
    for (int i = static_cast<int>(d.controls.size()); QFile::exists(dir.filePath(controlFile(i))); ++i)
        QFile::remove(dir.filePath(controlFile(i))); // layers removed since the last save
    QJsonArray boxes;
    for (const auto& b : d.boxes)
        boxes.append(QJsonObject { { QStringLiteral("x"), b.rect.x() }, { QStringLiteral("y"), b.rect.y() },
            { QStringLiteral("w"), b.rect.width() }, { QStringLiteral("h"), b.rect.height() },
            { QStringLiteral("prompt"), b.prompt } });
    QJsonObject root { { QStringLiteral("format"), QStringLiteral("latent-studio-project") },
        { QStringLiteral("version"), kFormat }, { QStringLiteral("boxes"), boxes },
        { QStringLiteral("panel"), d.panel }, { QStringLiteral("history"), history },
        { QStringLiteral("controls"), controls }, { QStringLiteral("mask"), !d.mask.isNull() } };
    // Last: the images it refers to are already in place.
    writeFileAtomically(dir.filePath(QStringLiteral("project.json")), QJsonDocument(root).toJson());
}

ProjectData parseProjectJson(const QByteArray& json, const QString& where)
{
    QJsonParseError err {};
    const QJsonDocument doc = QJsonDocument::fromJson(json, &err);
    if (err.error != QJsonParseError::NoError)
        bad(where, QStringLiteral("JSON"),
            err.errorString() + QStringLiteral(" at offset ") + QString::number(err.offset));
    if (!doc.isObject())
        bad(where, QStringLiteral("JSON"), QStringLiteral("the top level must be an object"));
    const QJsonObject root = doc.object();
    if (root.value(QStringLiteral("format")).toString() != QStringLiteral("latent-studio-project"))
        bad(where, QStringLiteral("format"), QStringLiteral("not a Latent Studio project"));
    const int version = root.value(QStringLiteral("version")).toInt(-1);
    if (version < 1 || version > kFormat)
        bad(where, QStringLiteral("version"),
            QStringLiteral("unsupported version %1 (this build reads 1..%2)").arg(version).arg(kFormat));
    ProjectData d;
    const QJsonValue boxes = root.value(QStringLiteral("boxes"));
    if (!boxes.isUndefined() && !boxes.isArray())
        bad(where, QStringLiteral("boxes"), QStringLiteral("must be an array"));
    int i = 0;
    for (const QJsonValue& v : boxes.toArray()) {
        const QString field = QStringLiteral("boxes[%1]").arg(i++);
        if (!v.isObject())
            bad(where, field, QStringLiteral("must be an object"));
        const QJsonObject o = v.toObject();
        double r[4];
        const char* keys[4] = { "x", "y", "w", "h" };
        for (int k = 0; k < 4; ++k) {
            const QJsonValue n = o.value(QLatin1String(keys[k]));
            if (!n.isDouble() || !std::isfinite(n.toDouble()) || std::abs(n.toDouble()) > kMaxSide)
                bad(where, field + QLatin1Char('.') + QLatin1String(keys[k]),
                    QStringLiteral("must be a number within +-%1").arg(kMaxSide));
            r[k] = n.toDouble();
        }
        if (r[2] <= 0 || r[3] <= 0)
            bad(where, field, QStringLiteral("width and height must be positive"));
        d.boxes.push_back({ QRectF(r[0], r[1], r[2], r[3]), o.value(QStringLiteral("prompt")).toString() });
    }
    const QJsonValue controls = root.value(QStringLiteral("controls"));
    if (!controls.isUndefined() && !controls.isArray())
        bad(where, QStringLiteral("controls"), QStringLiteral("must be an array"));
    i = 0;
    for (const QJsonValue& v : controls.toArray()) {
        d.controls.push_back(parseControl(v, where, QStringLiteral("controls[%1]").arg(i)));
        ++i;
    }
    const QJsonValue panel = root.value(QStringLiteral("panel"));
    if (!panel.isUndefined() && !panel.isObject())
        bad(where, QStringLiteral("panel"), QStringLiteral("must be an object"));
    d.panel = panel.toObject();
    const QJsonValue history = root.value(QStringLiteral("history"));
    if (!history.isUndefined() && !history.isArray())
        bad(where, QStringLiteral("history"), QStringLiteral("must be an array"));
    i = 0;
    for (const QJsonValue& v : history.toArray()) {
        const QString field = QStringLiteral("history[%1]").arg(i++);
        const QJsonObject o = v.toObject();
        const QString file = o.value(QStringLiteral("file")).toString();
        if (!v.isObject() || file.isEmpty())
            bad(where, field, QStringLiteral("needs a \"file\""));
        if (QDir::isAbsolutePath(file) || file.contains(QStringLiteral("..")))
            bad(where, field + QStringLiteral(".file"), QStringLiteral("must be a path inside the project folder"));
        d.history.push_back(
            { file, o.value(QStringLiteral("parameters")).toString(), o.value(QStringLiteral("settings")).toString() });
    }
    return d;
}

ProjectData loadProject(const QString& dirPath)
{
    const QDir dir(dirPath);
    const QString jsonPath = dir.filePath(QStringLiteral("project.json"));
    QFile f(jsonPath);
    if (!f.exists())
        throw ProjectError((dirPath + QStringLiteral(": not a project (no project.json)")).toStdString());
    if (!f.open(QIODevice::ReadOnly))
        throw ProjectError((jsonPath + QStringLiteral(": cannot read: ") + f.errorString()).toStdString());
    if (f.size() > 64 * 1024 * 1024)
        throw ProjectError((jsonPath + QStringLiteral(": larger than 64 MB, not a project file")).toStdString());
    ProjectData d = parseProjectJson(f.readAll(), jsonPath);
    d.image = readPng(dir.filePath(QStringLiteral("image.png")), false);
    d.mask = readPng(dir.filePath(QStringLiteral("mask.png")), false);
    if (!d.mask.isNull()) {
        if (d.image.isNull() || d.mask.size() != d.image.size())
            throw ProjectError(
                (dir.filePath(QStringLiteral("mask.png")) + QStringLiteral(": size does not match image.png"))
                    .toStdString());
        d.mask = d.mask.convertToFormat(QImage::Format_Grayscale8);
    }
    for (int i = 0; i < d.controls.size(); ++i) {
        const QString path = dir.filePath(controlFile(i));
        QImage img = readPng(path, true);
        if (img.size() != d.image.size())
            throw ProjectError((path + QStringLiteral(": size does not match image.png")).toStdString());
        d.controls[i].image = img.convertToFormat(QImage::Format_RGB888);
    }
    for (auto& h : d.history) {
        h.file = dir.filePath(h.file);
        if (!QFileInfo::exists(h.file))
            throw ProjectError((h.file + QStringLiteral(": history image missing")).toStdString());
    }
    return d;
}

} // namespace ls::ui
