#pragma once
// The results history: one row of thumbnails, newest first, each a picture with its A1111 parameters, its JSON
// settings and its file in the history folder (written the moment the result exists). Click: compare with the
// canvas; double-click: apply it; right-click: apply, compare or reuse its settings.
#include <QDir>
#include <QImage>
#include <QListWidget>
#include <QString>
#include <QVector>

namespace ls::ui {

struct HistoryEntry {
    QImage image;
    QString parameters; // A1111 infotext (also the thumbnail's tool tip)
    QString settings; // GenerationRequest JSON
    QString file; // the PNG in the history folder (or a project's)
};

class HistoryPanel : public QListWidget {
    Q_OBJECT
public:
    explicit HistoryPanel(QWidget* parent = nullptr);
    void setFolder(const QString& dir); // created when missing
    // A new result: written to the history folder (with its parameters and settings in the PNG), then listed first.
    // Returns the error when it could not be written (it is listed all the same).
    QString addResult(const QImage& image, const QString& parameters, const QString& settings);
    void addEntry(const HistoryEntry& entry); // listed first, nothing written
    void setEntries(const QVector<HistoryEntry>& newestFirst);
    const HistoryEntry& entry(int row) const { return m_entries.at(row); }
    const QVector<HistoryEntry>& entries() const { return m_entries; } // newest first
    const HistoryEntry* findImage(const QImage& image) const; // the newest entry with this picture

Q_SIGNALS:
    void compareRequested(const QImage& image);
    void applyRequested(const QImage& image);
    void reuseRequested(const QString& settingsJson);

private:
    QDir m_dir;
    QVector<HistoryEntry> m_entries; // row i = m_entries[i]
};

} // namespace ls::ui
