#pragma once
// Event-loop stall probe: a 5 ms precise timer on the GUI thread; the longest gap between two of its ticks, minus
// the 5 ms, is how long the window could not answer (the responsiveness the app promises during generation).
#include <QElapsedTimer>
#include <QObject>

class QTimer;

namespace ls::ui {

class StallProbe : public QObject {
public:
    explicit StallProbe(QObject* parent = nullptr);
    void start(); // also resets the figures
    void stop();
    double maxStallMs() const;
    long long ticks() const { return m_ticks; }
    double seconds() const { return m_clock.nsecsElapsed() / 1e9; }

private:
    QTimer* m_timer;
    QElapsedTimer m_clock;
    qint64 m_last = -1, m_maxGap = 0;
    long long m_ticks = 0;
};

} // namespace ls::ui
