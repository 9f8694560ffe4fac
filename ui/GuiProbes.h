#pragma once
// Benchmarks of the running window (latent-studio --probe-responsiveness N, --probe-live N): they start when the
// model is loaded, print one JSON line and quit the application.
class QString;

namespace ls::ui {

class MainWindow;

// N queued generations while StallProbe measures the longest event-loop stall.
void probeResponsiveness(MainWindow& w, int jobs);
// Live mode: N paint strokes on the canvas, each waiting for its live picture; the edit-to-picture latencies
// (median, max) and the longest stall.
void probeLive(MainWindow& w, int edits);

} // namespace ls::ui
