#include "StallProbe.h"

#include <QTimer>

#include <algorithm>

namespace ls::ui {

namespace {
constexpr int kIntervalMs = 5;
}

StallProbe::StallProbe(QObject* parent)
    : QObject(parent)
    , m_timer(new QTimer(this))
{
    m_timer->setInterval(kIntervalMs);
    m_timer->setTimerType(Qt::PreciseTimer);
    connect(m_timer, &QTimer::timeout, this, [this] {
        const qint64 now = m_clock.nsecsElapsed();
        if (m_last >= 0)
            m_maxGap = std::max(m_maxGap, now - m_last);
        m_last = now;
        ++m_ticks;
    });
}

void StallProbe::start()
{
    m_last = -1;
    m_maxGap = 0;
    m_ticks = 0;
    m_clock.start();
    m_timer->start();
}

void StallProbe::stop() { m_timer->stop(); }

double StallProbe::maxStallMs() const { return std::max<qint64>(0, m_maxGap - qint64(kIntervalMs) * 1000000) / 1e6; }

} // namespace ls::ui
