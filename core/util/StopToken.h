#pragma once
// Cooperative cancellation: the UI sets it, the engine checks it before every UNet call and before the decode.
#include "util/Error.h"

#include <atomic>

namespace ls {

class StopToken {
public:
    void requestStop() { m_stop.store(true, std::memory_order_relaxed); }
    void reset() { m_stop.store(false, std::memory_order_relaxed); }
    bool stopRequested() const { return m_stop.load(std::memory_order_relaxed); }
    // Throws Error(Cancelled) when a stop was requested.
    void check() const
    {
        if (stopRequested())
            throw Error(ErrorKind::Cancelled, "cancelled");
    }

private:
    std::atomic<bool> m_stop { false };
};

} // namespace ls
