#pragma once
// Live painting: while it is on, every edit (a stroke ends, a box moves, the prompt or a setting changes) restarts a
// job on the newest canvas, debounced; the running live job is stopped within one UNet call, and a result is shown
// only when no edit came after the one it was made from (stale pictures never appear). The picture is image-to-image
// of the canvas at the live strength (100%: the canvas is ignored), or the panel's job (inpaint, layout) as it
// stands, with one fixed seed so that it moves only where the user changed something. Keep puts the live picture on
// the canvas (undoable) and into the history.
#include "pipeline/GenerationRequest.h"

#include <QElapsedTimer>
#include <QImage>
#include <QMap>
#include <QObject>
#include <QSet>
#include <QString>

#include <functional>
#include <optional>

class QCheckBox;
class QDoubleSpinBox;
class QLabel;
class QPushButton;
class QSpinBox;
class QTimer;
class QWidget;

namespace ls::ui {

class GenerationController;
class LiveView;

class LiveMode : public QObject {
    Q_OBJECT
public:
    // The request Generate would send now, with the canvas picture as initImage whenever the canvas holds something
    // of the user's (even for text-to-image); nullopt with the reason when there is none yet (no model, no prompt).
    using RequestFn = std::function<std::optional<ls::pipeline::GenerationRequest>(QString* why)>;
    LiveMode(GenerationController* controller, RequestFn request, QObject* parent = nullptr);

    QWidget* panel() const { return m_panel; } // the Live dock's contents
    bool isOn() const { return m_on; }
    void setOn(bool on);
    double strength() const;
    void setStrength(double s); // 0.05 .. 1
    qint64 seed() const;
    void setSeed(qint64 seed);
    void setFastDecode(bool on); // TAESD as the final decoder (needs one for the model)

    // Something the picture depends on changed: restarts after `delayMs` (edits within it are one restart).
    void edited(int delayMs = 30);
    bool owns(int jobId) const { return m_owned.contains(jobId); } // a live job: the main window leaves it alone
    const QImage& picture() const { return m_picture; } // the newest live picture shown (null before the first)
    int pictureJob() const { return m_pictureJob; }
    double lastLatency() const { return m_latency; } // seconds from the edit to its picture on screen
    void keep(); // the live picture onto the canvas and into the history (keepRequested)

Q_SIGNALS:
    void pictureShown(int jobId, const QImage& picture);
    void keepRequested(const QImage& picture, const QString& parameters, const QString& settingsJson);
    void toggled(bool on);

private:
    void submit();
    void show(int jobId, const QImage& picture, bool final);
    bool current(int jobId) const; // made from the newest edit
    void stopJobs(); // every live job still running or waiting

    GenerationController* m_controller;
    RequestFn m_request;
    QWidget* m_panel;
    QCheckBox *m_toggle, *m_fast;
    QDoubleSpinBox* m_strength;
    QSpinBox* m_seed;
    QPushButton* m_keep;
    QLabel* m_status;
    LiveView* m_view;
    QTimer* m_debounce;
    bool m_on = false;
    int m_edit = 0; // edits so far; each live job remembers the one it was made from
    QMap<int, int> m_jobs; // live jobs not yet ended -> their edit
    QSet<int> m_owned; // every live job so far
    QElapsedTimer m_clock;
    qint64 m_editAt = 0; // ms on m_clock of the newest edit
    QImage m_picture;
    int m_pictureJob = 0;
    QString m_parameters, m_settings;
    double m_latency = 0;
};

} // namespace ls::ui
