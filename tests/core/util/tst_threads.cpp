// Threads follow the load: /proc/stat's runnable count is read, the choice leaves the cores other programs keep busy,
// and with a busy-looping process beside it the pipeline's check gives up a thread.
#include "util/Threads.h"

#include <ATen/Parallel.h>
#include <QtTest/QtTest>

#include <thread>

class TestThreads : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void parsesProcStat()
    {
        QCOMPARE(ls::runningTasksIn("cpu  1 2 3\ncpu0 1 2 3\nintr 5 6\nctxt 9\nprocs_running 3\nprocs_blocked 0\n"), 3);
        QCOMPARE(ls::runningTasksIn("cpu  1 2 3\nprocs_blocked 0\n"), -1);
        QCOMPARE(ls::runningTasksIn(""), -1);
    }

    void choosesTheFreeCores()
    {
        QCOMPARE(ls::threadsForLoad(2, 0, 2), 2);
        QCOMPARE(ls::threadsForLoad(2, 1, 2), 1);
        QCOMPARE(ls::threadsForLoad(2, 7, 2), 1); // never none
        QCOMPARE(ls::threadsForLoad(4, 1, 8), 4); // never more than asked for
        QCOMPARE(ls::threadsForLoad(8, 3, 8), 5);
        QCOMPARE(ls::threadsForLoad(1, 0, 2), 1);
    }

    void busyNeighbourTakesAThread()
    {
        qunsetenv("LS_ADAPT_THREADS"); // CTest turns adapting off for the other tests; this one is about it
        const int cores = ls::defaultThreadCount();
        QProcess busy;
        busy.start(QStringLiteral("/bin/sh"), { QStringLiteral("-c"), QStringLiteral("while :; do :; done") });
        QVERIFY(busy.waitForStarted());
        QTest::qWait(300);
        QVERIFY(ls::otherRunnableTasks() >= 1);
        ls::configureThreads(cores);
        ls::adaptThreadsToLoad();
        QVERIFY2(at::get_num_threads() <= std::max(1, cores - 1), qPrintable(QString::number(at::get_num_threads())));
        busy.kill();
        busy.waitForFinished();
    }
};

QTEST_GUILESS_MAIN(TestThreads)
#include "tst_threads.moc"
