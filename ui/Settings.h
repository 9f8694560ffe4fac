#pragma once
// Application settings kept with QSettings (~/.config/latent-studio/latent-studio.conf): model folders, compute
// device, CPU threads, live preview mode and interval, CLIP vocabulary path, VAE, undo memory. SettingsDialog edits
// them.
#include "RemoteBackend.h"

#include <QDialog>
#include <QString>
#include <QStringList>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QSettings;
class QSpinBox;
class QTableWidget;

namespace ls::ui {

struct AppSettings {
    QStringList modelFolders;
    QString device = QStringLiteral("cpu"); // "cpu" or "cuda"
    int threads = 0; // 0: all cores
    QString previewMode = QStringLiteral("projection"); // "projection" (cheap, every step), "decode" (full), "off"
    int previewInterval = 1; // steps between previews (decode: between full decodes)
    QString vocabulary; // CLIP vocabulary file or folder; empty: search the model folder
    QString vae; // a stand-alone VAE used with every model it fits; empty: each model's own
    QString taesd; // TAESD decoder for the previews (taesd_decoder.safetensors); empty: found beside the model
    bool fastDecode = false; // the TAESD decoder for the final pictures too (A1111's "VAE Decoder: TAESD")
    int undoMemoryMB = 512; // canvas undo history bound (oldest edits forgotten past it)
    // Remote AUTOMATIC1111-API servers whose models the model picker offers (Settings > Backends). Passwords are kept
    // in the settings file as typed (readable by this user only, like the rest of it).
    QList<RemoteServerConfig> remoteServers;
    static constexpr int kMinUndoMemoryMB = 16, kMaxUndoMemoryMB = 65536;

    static AppSettings load(QSettings& s);
    void save(QSettings& s) const;
    static AppSettings load(); // the application's QSettings
    void save() const;
};

// A checkpoint found in the model folders.
struct ModelEntry {
    QString name; // file or folder name
    QString path;
};
// *.safetensors, *.ckpt, *.pt, *.pth files and diffusers folders (with model_index.json), one level deep per folder,
// sorted by name; unreadable folders are skipped.
QList<ModelEntry> scanModelFolders(const QStringList& folders);

class BackendsEditor;

class SettingsDialog : public QDialog {
    Q_OBJECT
public:
    explicit SettingsDialog(const AppSettings& settings, bool cudaAvailable, QWidget* parent = nullptr);
    AppSettings settings() const;

private:
    QListWidget* m_folders;
    QComboBox *m_device, *m_preview;
    QSpinBox *m_threads, *m_interval, *m_undoMemory;
    QLineEdit *m_vocab, *m_vae, *m_taesd;
    QCheckBox* m_fastDecode;
    BackendsEditor* m_backends;
};

// Settings > Backends: the local engine is always there; remote servers are added by URL with an optional user and
// password, and "Test connection" lists what the server offers.
class BackendsEditor : public QWidget {
    Q_OBJECT
public:
    explicit BackendsEditor(const QList<RemoteServerConfig>& servers, QWidget* parent = nullptr);
    QList<RemoteServerConfig> servers() const;
    void testSelected();
    QString lastTestResult() const;

Q_SIGNALS:
    void tested(bool ok, const QString& message);

private:
    QTableWidget* m_table;
    QLabel* m_result;
    RemoteBackend* m_probe;
};

} // namespace ls::ui
