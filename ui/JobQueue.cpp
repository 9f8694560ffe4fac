#include "JobQueue.h"

namespace ls::ui {

void JobQueue::push(QueuedJob job)
{
    QMutexLocker lock(&m_mutex);
    m_jobs.push_back(std::move(job));
}

void JobQueue::finishCurrent()
{
    QMutexLocker lock(&m_mutex);
    m_current = 0; // between jobs nothing runs: a cancel now drops the next job instead
}

std::vector<int> JobQueue::clear()
{
    QMutexLocker lock(&m_mutex);
    std::vector<int> ids;
    for (const auto& j : m_jobs)
        ids.push_back(j.id);
    m_jobs.clear();
    return ids;
}

int JobQueue::size() const
{
    QMutexLocker lock(&m_mutex);
    return static_cast<int>(m_jobs.size());
}

bool JobQueue::running() const
{
    QMutexLocker lock(&m_mutex);
    return m_current != 0;
}

void JobQueue::loadStarted()
{
    QMutexLocker lock(&m_mutex);
    ++m_loads;
}

void JobQueue::loadEnded()
{
    QMutexLocker lock(&m_mutex);
    --m_loads;
}

bool JobQueue::busy() const
{
    QMutexLocker lock(&m_mutex);
    return m_current != 0 || !m_jobs.empty() || m_loads > 0;
}

} // namespace ls::ui
