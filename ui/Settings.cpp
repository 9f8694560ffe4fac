#include "Settings.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFormLayout>
#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QStandardItemModel>
#include <QThread>
#include <QVBoxLayout>

#include <algorithm>

namespace ls::ui {

AppSettings AppSettings::load(QSettings& s)
{
    AppSettings a;
    a.modelFolders = s.value(QStringLiteral("models/folders")).toStringList();
    const QString dev = s.value(QStringLiteral("compute/device"), a.device).toString();
    a.device = dev == QStringLiteral("cuda") ? dev : QStringLiteral("cpu");
    a.threads = std::clamp(s.value(QStringLiteral("compute/threads"), 0).toInt(), 0, 1024);
    const QString mode = s.value(QStringLiteral("preview/mode"), a.previewMode).toString();
    a.previewMode
        = (mode == QStringLiteral("decode") || mode == QStringLiteral("off")) ? mode : QStringLiteral("projection");
    a.previewInterval = std::clamp(s.value(QStringLiteral("preview/interval"), 1).toInt(), 1, 1000);
    a.vocabulary = s.value(QStringLiteral("text/vocabulary")).toString();
    a.vae = s.value(QStringLiteral("models/vae")).toString();
    a.taesd = s.value(QStringLiteral("preview/taesd")).toString();
    a.fastDecode = s.value(QStringLiteral("preview/fast_decode"), false).toBool();
    a.undoMemoryMB = std::clamp(
        s.value(QStringLiteral("canvas/undo_memory_mb"), a.undoMemoryMB).toInt(), kMinUndoMemoryMB, kMaxUndoMemoryMB);
    const int n = s.beginReadArray(QStringLiteral("backends"));
    for (int i = 0; i < n; ++i) {
        s.setArrayIndex(i);
        RemoteServerConfig c { s.value(QStringLiteral("url")).toString(), s.value(QStringLiteral("user")).toString(),
            s.value(QStringLiteral("password")).toString() };
        if (!c.url.trimmed().isEmpty())
            a.remoteServers << c;
    }
    s.endArray();
    return a;
}

void AppSettings::save(QSettings& s) const
{
    s.setValue(QStringLiteral("models/folders"), modelFolders);
    s.setValue(QStringLiteral("compute/device"), device);
    s.setValue(QStringLiteral("compute/threads"), threads);
    s.setValue(QStringLiteral("preview/mode"), previewMode);
    s.setValue(QStringLiteral("preview/interval"), previewInterval);
    s.setValue(QStringLiteral("text/vocabulary"), vocabulary);
    s.setValue(QStringLiteral("models/vae"), vae);
    s.setValue(QStringLiteral("preview/taesd"), taesd);
    s.setValue(QStringLiteral("preview/fast_decode"), fastDecode);
    s.setValue(QStringLiteral("canvas/undo_memory_mb"), undoMemoryMB);
    s.beginWriteArray(QStringLiteral("backends"), static_cast<int>(remoteServers.size()));
    for (int i = 0; i < remoteServers.size(); ++i) {
        s.setArrayIndex(i);
        s.setValue(QStringLiteral("url"), remoteServers[i].url);
        s.setValue(QStringLiteral("user"), remoteServers[i].user);
        s.setValue(QStringLiteral("password"), remoteServers[i].password);
    }
    s.endArray();
    s.sync();
}

// Explicit names: QSettings() needs an organisation name, which the app does not set (it would move the data folder).
AppSettings AppSettings::load()
{
    QSettings s(QSettings::NativeFormat, QSettings::UserScope, QStringLiteral("latent-studio"),
        QStringLiteral("latent-studio"));
    return load(s);
}

void AppSettings::save() const
{
    QSettings s(QSettings::NativeFormat, QSettings::UserScope, QStringLiteral("latent-studio"),
        QStringLiteral("latent-studio"));
    save(s);
}

QList<ModelEntry> scanModelFolders(const QStringList& folders)
{
    QList<ModelEntry> out;
    const QStringList patterns { QStringLiteral("*.safetensors"), QStringLiteral("*.ckpt"), QStringLiteral("*.pt"),
        QStringLiteral("*.pth") };
    for (const QString& f : folders) {
        const QDir dir(f);
        if (!dir.exists() || !dir.isReadable())
            continue;
        for (const QFileInfo& fi : dir.entryInfoList(patterns, QDir::Files | QDir::Readable, QDir::Name))
            out.push_back({ fi.fileName(), fi.absoluteFilePath() });
        for (const QFileInfo& fi : dir.entryInfoList(QDir::Dirs | QDir::NoDotAndDotDot | QDir::Readable, QDir::Name))
            if (QFileInfo::exists(QDir(fi.absoluteFilePath()).filePath(QStringLiteral("model_index.json"))))
                out.push_back({ fi.fileName(), fi.absoluteFilePath() });
    }
    std::stable_sort(out.begin(), out.end(),
        [](const ModelEntry& a, const ModelEntry& b) { return a.name.compare(b.name, Qt::CaseInsensitive) < 0; });
    return out;
}

SettingsDialog::SettingsDialog(const AppSettings& a, bool cudaAvailable, QWidget* parent)
    : QDialog(parent)
    , m_folders(new QListWidget)
    , m_device(new QComboBox)
    , m_preview(new QComboBox)
    , m_threads(new QSpinBox)
    , m_interval(new QSpinBox)
    , m_undoMemory(new QSpinBox)
    , m_vocab(new QLineEdit(a.vocabulary))
    , m_vae(new QLineEdit(a.vae))
    , m_taesd(new QLineEdit(a.taesd))
    , m_fastDecode(new QCheckBox(tr("Fast decode: TAESD for the final pictures too")))
    , m_backends(new BackendsEditor(a.remoteServers))
{
    setWindowTitle(tr("Settings"));
    auto* layout = new QVBoxLayout(this);
    auto* form = new QFormLayout;

    m_folders->addItems(a.modelFolders);
    auto* add = new QPushButton(tr("Add..."));
    auto* remove = new QPushButton(tr("Remove"));
    connect(add, &QPushButton::clicked, this, [this] {
        const QString d = QFileDialog::getExistingDirectory(this, tr("Model folder"));
        if (!d.isEmpty() && m_folders->findItems(d, Qt::MatchExactly).isEmpty())
            m_folders->addItem(d);
    });
    connect(remove, &QPushButton::clicked, this, [this] { delete m_folders->currentItem(); });
    auto* folderButtons = new QHBoxLayout;
    folderButtons->addWidget(add);
    folderButtons->addWidget(remove);
    folderButtons->addStretch(1);
    auto* folderBox = new QVBoxLayout;
    folderBox->addWidget(m_folders);
    folderBox->addLayout(folderButtons);
    form->addRow(tr("Model folders"), folderBox);

    m_device->addItem(tr("CPU"), QStringLiteral("cpu"));
    m_device->addItem(tr("CUDA GPU"), QStringLiteral("cuda"));
    if (!cudaAvailable) {
        auto* model = qobject_cast<QStandardItemModel*>(m_device->model());
        model->item(1)->setEnabled(false);
        model->item(1)->setToolTip(tr("This build's libtorch has no CUDA, or no GPU is visible"));
    }
    m_device->setCurrentIndex(a.device == QStringLiteral("cuda") && cudaAvailable ? 1 : 0);
    form->addRow(tr("Device"), m_device);

    m_threads->setRange(0, std::max(1, QThread::idealThreadCount() * 2));
    m_threads->setSpecialValueText(tr("All cores (%1)").arg(QThread::idealThreadCount()));
    m_threads->setValue(a.threads);
    form->addRow(tr("CPU threads"), m_threads);

    m_preview->addItem(tr("Fast projection"), QStringLiteral("projection"));
    m_preview->addItem(tr("Full decode"), QStringLiteral("decode"));
    m_preview->addItem(tr("Off"), QStringLiteral("off"));
    m_preview->setCurrentIndex(std::max(0, m_preview->findData(a.previewMode)));
    form->addRow(tr("Live preview"), m_preview);
    m_interval->setRange(1, 1000);
    m_interval->setValue(a.previewInterval);
    m_interval->setSuffix(tr(" steps"));
    form->addRow(tr("Preview every"), m_interval);

    auto* browse = new QPushButton(tr("Browse..."));
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString f = QFileDialog::getExistingDirectory(
            this, tr("CLIP vocabulary folder (vocab.json + merges.txt, or bpe_simple_vocab_16e6.txt.gz)"));
        if (!f.isEmpty())
            m_vocab->setText(f);
    });
    auto* vocabRow = new QHBoxLayout;
    m_vocab->setPlaceholderText(tr("Found next to the model when empty"));
    vocabRow->addWidget(m_vocab, 1);
    vocabRow->addWidget(browse);
    form->addRow(tr("CLIP vocabulary"), vocabRow);

    // A file field with its Browse button.
    auto fileRow = [this, form](QLineEdit* edit, const QString& label, const QString& title, const QString& filter) {
        auto* browse = new QPushButton(tr("Browse..."));
        connect(browse, &QPushButton::clicked, this, [this, edit, title, filter] {
            const QString f = QFileDialog::getOpenFileName(this, title, QString(), filter);
            if (!f.isEmpty())
                edit->setText(f);
        });
        auto* row = new QHBoxLayout;
        row->addWidget(edit, 1);
        row->addWidget(browse);
        form->addRow(label, row);
    };
    m_vae->setObjectName(QStringLiteral("vae"));
    m_vae->setPlaceholderText(tr("Each model's own"));
    m_vae->setToolTip(tr("A stand-alone VAE (e.g. vae-ft-mse-840000) used with every model it fits"));
    fileRow(m_vae, tr("VAE"), tr("VAE file"), tr("VAE files (*.safetensors *.ckpt *.pt *.bin)"));
    m_taesd->setObjectName(QStringLiteral("taesd"));
    m_taesd->setPlaceholderText(tr("taesd_decoder beside the model or in its vae_approx/ folder"));
    m_taesd->setToolTip(tr("TAESD, the tiny autoencoder (madebyollin/taesd): full-size previews every step for about "
                           "a twentieth of a VAE decode; taesdxl_decoder for SDXL models"));
    fileRow(m_taesd, tr("Preview decoder"), tr("TAESD decoder"), tr("TAESD decoders (*.safetensors *.pth)"));
    m_fastDecode->setObjectName(QStringLiteral("fastDecode"));
    m_fastDecode->setChecked(a.fastDecode);
    m_fastDecode->setToolTip(tr("Decode every picture with the TAESD decoder instead of the VAE: about 20x cheaper, "
                                "softer detail; written to the picture's parameters as 'VAE Decoder: TAESD'"));
    form->addRow(QString(), m_fastDecode);

    m_undoMemory->setRange(AppSettings::kMinUndoMemoryMB, AppSettings::kMaxUndoMemoryMB);
    m_undoMemory->setSingleStep(128);
    m_undoMemory->setSuffix(tr(" MB"));
    m_undoMemory->setValue(a.undoMemoryMB);
    m_undoMemory->setToolTip(tr("Memory the canvas undo history may hold; the oldest edits are forgotten past it"));
    form->addRow(tr("Undo memory"), m_undoMemory);
    form->addRow(tr("Backends"), m_backends);

    layout->addLayout(form);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(buttons);
}

AppSettings SettingsDialog::settings() const
{
    AppSettings a;
    for (int i = 0; i < m_folders->count(); ++i)
        a.modelFolders << m_folders->item(i)->text();
    a.device = m_device->currentData().toString();
    a.threads = m_threads->value();
    a.previewMode = m_preview->currentData().toString();
    a.previewInterval = m_interval->value();
    a.vocabulary = m_vocab->text().trimmed();
    a.vae = m_vae->text().trimmed();
    a.taesd = m_taesd->text().trimmed();
    a.fastDecode = m_fastDecode->isChecked();
    a.undoMemoryMB = m_undoMemory->value();
    a.remoteServers = m_backends->servers();
    return a;
}

BackendsEditor::BackendsEditor(const QList<RemoteServerConfig>& servers, QWidget* parent)
    : QWidget(parent)
    , m_table(new QTableWidget(0, 3))
    , m_result(new QLabel)
    , m_probe(new RemoteBackend(this))
{
    m_table->setObjectName(QStringLiteral("backends"));
    m_table->setHorizontalHeaderLabels({ tr("Server URL"), tr("User"), tr("Password") });
    m_table->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
    m_table->verticalHeader()->hide();
    m_table->setToolTip(tr("Servers that speak the AUTOMATIC1111 API (latent-cli serve, AUTOMATIC1111 --api, Forge, "
                           "SD.Next): their models appear in the model picker. The local engine is always used for "
                           "local models."));
    for (const auto& s : servers) {
        const int row = m_table->rowCount();
        m_table->insertRow(row);
        m_table->setItem(row, 0, new QTableWidgetItem(s.url));
        m_table->setItem(row, 1, new QTableWidgetItem(s.user));
        auto* pw = new QTableWidgetItem(s.password);
        m_table->setItem(row, 2, pw);
    }
    m_table->setMaximumHeight(110);
    auto* add = new QPushButton(tr("Add server"));
    auto* remove = new QPushButton(tr("Remove"));
    auto* test = new QPushButton(tr("Test connection"));
    test->setObjectName(QStringLiteral("testConnection"));
    connect(add, &QPushButton::clicked, this, [this] {
        const int row = m_table->rowCount();
        m_table->insertRow(row);
        m_table->setItem(row, 0, new QTableWidgetItem(QStringLiteral("http://127.0.0.1:7860")));
        m_table->setItem(row, 1, new QTableWidgetItem);
        m_table->setItem(row, 2, new QTableWidgetItem);
        m_table->setCurrentCell(row, 0);
        m_table->editItem(m_table->item(row, 0));
    });
    connect(remove, &QPushButton::clicked, this, [this] {
        if (m_table->currentRow() >= 0)
            m_table->removeRow(m_table->currentRow());
    });
    connect(test, &QPushButton::clicked, this, &BackendsEditor::testSelected);
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(add);
    buttons->addWidget(remove);
    buttons->addWidget(test);
    buttons->addStretch(1);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_table);
    layout->addLayout(buttons);
    m_result->setWordWrap(true);
    m_result->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_result);
}

QList<RemoteServerConfig> BackendsEditor::servers() const
{
    QList<RemoteServerConfig> out;
    for (int r = 0; r < m_table->rowCount(); ++r) {
        auto text = [&](int c) { return m_table->item(r, c) ? m_table->item(r, c)->text().trimmed() : QString(); };
        if (!text(0).isEmpty())
            out << RemoteServerConfig { text(0), text(1),
                m_table->item(r, 2) ? m_table->item(r, 2)->text() : QString() };
    }
    return out;
}

void BackendsEditor::testSelected()
{
    const auto all = servers();
    const int row = std::max(0, m_table->currentRow());
    if (row >= all.size()) {
        m_result->setText(tr("Add a server first"));
        return;
    }
    const RemoteServerConfig c = all[row];
    m_result->setText(tr("Asking %1...").arg(c.url));
    m_probe->testServer(c, [this, c](bool ok, const QString& message, const QStringList& models) {
        const QString text = ok ? tr("%1 answers: %2\n%3").arg(c.url, message, models.join(QStringLiteral("\n")))
                                : tr("%1 does not answer: %2").arg(c.url, message);
        m_result->setText(text);
        Q_EMIT tested(ok, text);
    });
}

QString BackendsEditor::lastTestResult() const { return m_result->text(); }

} // namespace ls::ui
