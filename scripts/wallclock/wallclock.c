/*
 * Move the wall clock of a process tree: an LD_PRELOAD library that adds
 * KOFU_WALLCLOCK_OFFSET_NS nanoseconds to every reading of the real-time
 * clock (clock_gettime(CLOCK_REALTIME…), gettimeofday, time, timespec_get).
 * Monotonic clocks, sleeps and timed waits are left alone, so timeouts keep
 * working. Children inherit the environment and so share the same clock.
 *
 * Why not libfaketime (Debian's `faketime`, 0.9.10, the maintained tool): it
 * also rewrites timed waits, and Python 3.11's threading waits
 * (sem_clockwait / pthread_cond_clockwait on CLOCK_MONOTONIC) then hang, and
 * time.sleep fails with EINVAL under FAKETIME_DONT_FAKE_MONOTONIC — measured
 * here with every combination of its options (upstream issues #390, #469).
 * Only reading the clock needs to move, which is these few lines.
 *
 * Used by scripts/at-clock; built by `make setup`.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static int (*real_clock_gettime)(clockid_t, struct timespec *);
static long long offset_ns;

static void load(void)
{
    if (real_clock_gettime)
        return;
    const char *raw = getenv("KOFU_WALLCLOCK_OFFSET_NS");
    offset_ns = raw ? strtoll(raw, NULL, 10) : 0;
    real_clock_gettime = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
}

static void shift(struct timespec *ts)
{
    long long ns = (long long)ts->tv_sec * 1000000000LL + ts->tv_nsec + offset_ns;
    ts->tv_sec = (time_t)(ns / 1000000000LL);
    ts->tv_nsec = (long)(ns % 1000000000LL);
    if (ts->tv_nsec < 0) {
        ts->tv_nsec += 1000000000L;
        ts->tv_sec -= 1;
    }
}

int clock_gettime(clockid_t clock, struct timespec *ts)
{
    load();
    int result = real_clock_gettime(clock, ts);
    if (result == 0 && (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_COARSE || clock == CLOCK_TAI))
        shift(ts);
    return result;
}

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
    (void)tz;
    struct timespec ts;
    int result = clock_gettime(CLOCK_REALTIME, &ts);
    if (result == 0) {
        tv->tv_sec = ts.tv_sec;
        tv->tv_usec = ts.tv_nsec / 1000;
    }
    return result;
}

time_t time(time_t *out)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return (time_t)-1;
    if (out)
        *out = ts.tv_sec;
    return ts.tv_sec;
}

int timespec_get(struct timespec *ts, int base)
{
    if (base != TIME_UTC || clock_gettime(CLOCK_REALTIME, ts) != 0)
        return 0;
    return base;
}
