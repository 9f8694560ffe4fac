#pragma once
// The generation queue shared by the GUI thread and the worker. Every method takes the lock for itself and returns
// what changed (ids, sizes), so callers emit their signals after the lock is released: a slot may call straight back
// into the controller (queuedJobs(), busy(), cancel...) without deadlocking on a non-recursive mutex.
#include "pipeline/GenerationRequest.h"

#include <QMutex>
#include <QString>

#include <deque>
#include <optional>
#include <vector>

namespace ls::ui {

struct QueuedJob {
    int id = 0;
    ls::pipeline::GenerationRequest request;
    QString engineModel;
};

class JobQueue {
public:
    void push(QueuedJob job);
    // Takes the next job and makes it the current one, calling `onTaken` under the lock (the worker resets its stop
    // token there, so a cancel that sees the job running is never lost); none when the queue is empty (then nothing
    // is current).
    template <typename TakenFn> std::optional<QueuedJob> takeNext(TakenFn onTaken)
    {
        QMutexLocker lock(&m_mutex);
        if (m_jobs.empty()) {
            m_current = 0;
            return std::nullopt;
        }
        QueuedJob job = std::move(m_jobs.front());
        m_jobs.pop_front();
        m_current = job.id;
        onTaken();
        return job;
    }
    void finishCurrent();
    // The running job's id (0 when none runs). `stopRunning` is called under the lock when a job runs, so a job being
    // picked up now cannot slip through: either it runs already, or it is still next in line and is dropped. Returns
    // the id of the job dropped from the queue (0 when a running job was asked to stop or the queue was empty).
    template <typename StopFn> int cancelCurrentOrNext(StopFn stopRunning)
    {
        QMutexLocker lock(&m_mutex);
        if (m_current != 0) {
            stopRunning();
            return 0;
        }
        if (m_jobs.empty())
            return 0;
        const int id = m_jobs.front().id;
        m_jobs.pop_front();
        return id;
    }
    // One job by its id: asks it to stop when it runs (false), drops it when it waits (true); false when unknown.
    template <typename StopFn> bool cancelJob(int id, StopFn stopRunning)
    {
        QMutexLocker lock(&m_mutex);
        if (m_current == id) {
            stopRunning();
            return false;
        }
        for (auto it = m_jobs.begin(); it != m_jobs.end(); ++it)
            if (it->id == id) {
                m_jobs.erase(it);
                return true;
            }
        return false;
    }
    std::vector<int> clear(); // ids of the dropped jobs, in queue order
    int size() const;
    bool running() const;
    void loadStarted();
    void loadEnded();
    bool busy() const; // a job runs or waits, or a model is loading

private:
    mutable QMutex m_mutex;
    std::deque<QueuedJob> m_jobs;
    int m_current = 0;
    int m_loads = 0;
};

} // namespace ls::ui
