#pragma once
// Prompt, negative prompt, model, sampler and the settings of each job, turned into a GenerationRequest.
#include "Settings.h"
#include "latent-studio/UpscalerPlugin.h"
#include "pipeline/GenerationRequest.h"

#include <QWidget>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QFormLayout;
class QGroupBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QMenu;
class QPushButton;
class QSpinBox;

namespace ls::ui {

class PromptPanel : public QWidget {
    Q_OBJECT
public:
    explicit PromptPanel(QWidget* parent = nullptr);

    // Mode "Auto" follows the canvas: a mask means inpaint, boxes mean layout.
    ls::pipeline::GenerationRequest request(bool canvasHasMask, bool canvasHasBoxes) const;
    void applyRequest(const ls::pipeline::GenerationRequest& r); // "use these settings"
    void setModelText(const QString& text);
    void setBusy(bool busy);
    QString modelPath() const;
    void setModelPath(const QString& path);
    // Checkpoints found in the model folders, listed after the bundled model (the current choice is kept).
    void setModelList(const QList<ModelEntry>& models);
    // Upscalers offered by the plugins, after "Loaded model"; the first diffusion upscaler is preselected.
    void setUpscalers(const QList<plugin::UpscalerInfo>& upscalers);
    QString upscalerId() const; // empty: the loaded model
    void setUpscalerId(const QString& id);
    QString modeName() const;
    void setMode(const QString& name);
    void setPrompt(const QString& p);
    void setGuidance(double scale);
    void setSeed(qint64 seed);
    void setSize(int width, int height);
    // Folders whose LoRA files the "LoRA" menu lists (after the model's own loras/ and the default folders).
    void setLoraFolders(const QStringList& folders);
    QStringList loraFolders() const; // every folder listed, in order
    // Adds <lora:NAME:1> to the prompt at the cursor.
    void insertLoraTag(const QString& name);
    QMenu* loraMenu() const { return m_loraMenu; }
    qint64 lastSeed() const { return m_lastSeed; }
    void setLastSeed(qint64 s) { m_lastSeed = s; }

Q_SIGNALS:
    void generateClicked();
    void cancelClicked();
    void modelChosen(const QString& path);
    void modeChanged(const QString& name);
    void edited(); // any prompt or setting changed (live mode restarts on it)

private:
    void addModelRows(QFormLayout* form); // model, its description, LoRA menu
    void addSamplingRows(QFormLayout* form); // job, sampler, schedule, steps, guidance, seed, size, batch, strength
    void addHiresRow(QFormLayout* form);
    QGroupBox* inpaintGroup();
    QGroupBox* upscaleGroup();
    void watchEdits();
    QPlainTextEdit *m_prompt, *m_negative;
    QComboBox *m_model, *m_mode, *m_sampler, *m_schedule;
    QLabel* m_modelInfo;
    QSpinBox *m_steps, *m_width, *m_height, *m_batch, *m_blur, *m_grow, *m_padding, *m_scale, *m_tile, *m_overlap;
    QDoubleSpinBox *m_cfg, *m_strength, *m_hires, *m_hiresStrength;
    // Settings a reused picture brought that have no field here (eta, clip skip, the hires pass's size, steps, sampler,
    // prompts and CFG): they go with every request until other settings are applied. The hires size holds while the
    // Hires spin box keeps the value applyRequest gave it.
    ls::pipeline::GenerationRequest m_reused;
    double m_reusedHiresScale = 1.0;
    QLineEdit* m_seed;
    QCheckBox *m_randomSeed, *m_onlyMasked, *m_soft, *m_captionLayout;
    QComboBox* m_upscaler;
    QPushButton *m_generate, *m_reuseSeed, *m_lora;
    QMenu* m_loraMenu;
    QStringList m_loraFolders;
    bool m_busy = false;
    qint64 m_lastSeed = -1;
};

} // namespace ls::ui
