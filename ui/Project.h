#pragma once
// A project on disk: one folder "<name>.lsproj" holding project.json (boxes, prompt panel settings, history list),
// image.png, mask.png and history/*.png. Every file is written atomically (temporary file, fsync, rename) and
// project.json last, so a crash mid-save leaves the previous project readable. Loading checks everything and throws
// ProjectError naming the file and the cause; a bad project is never modified.
#include "Canvas.h"

#include <QImage>
#include <QJsonObject>
#include <QString>
#include <QVector>

#include <stdexcept>

namespace ls::ui {

class ProjectError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct ProjectHistoryEntry {
    QString file; // absolute path (in memory); stored relative to the project folder
    QString parameters; // A1111 infotext
    QString settings; // GenerationRequest JSON
};

struct ProjectData {
    QImage image;
    QImage mask; // Grayscale8, same size as image (or null)
    QVector<CanvasBox> boxes;
    QVector<ControlLayer> controls; // images in control-N.png, settings in project.json
    QJsonObject panel; // {"mode": ..., "request": GenerationRequest JSON}
    QVector<ProjectHistoryEntry> history; // newest first
};

// Writes the project into folder `dir` (created when missing). History images outside the folder are copied in.
void saveProject(const QString& dir, const ProjectData& data);
ProjectData loadProject(const QString& dir);
// Parses project.json text (used by loadProject and the fuzz target); `where` names the file in errors.
ProjectData parseProjectJson(const QByteArray& json, const QString& where);

// Atomically replaces `path` with `bytes` (QSaveFile: temporary file, fsync, rename).
void writeFileAtomically(const QString& path, const QByteArray& bytes);

} // namespace ls::ui
