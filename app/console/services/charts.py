"""SVG geometry of the dashboard's chart: items processed and failed per minute."""

from ...store.common import utcnow

CHART_MINUTES = 60
CHART_WIDTH, CHART_HEIGHT = 600, 120


def chart(minutes, now=None):
    """SVG geometry for items processed and failed per minute over the last hour."""
    now = now or utcnow()
    end = int(now.timestamp()) // 60 * 60
    start = end - (CHART_MINUTES - 1) * 60
    by_minute = {t: (p, f) for t, p, f in minutes}
    peak = max([p for _t, p, _f in minutes] + [1])
    slot = CHART_WIDTH / CHART_MINUTES
    bars = []
    for n in range(CHART_MINUTES):
        t = start + n * 60
        processed, failed = by_minute.get(t, (0, 0))
        h_all = round(processed / peak * CHART_HEIGHT, 1)
        h_failed = round(min(failed, processed or failed) / peak * CHART_HEIGHT, 1)
        bars.append({"x": round(n * slot + 1, 1), "w": round(slot - 2, 1), "t": t,
                     "processed": processed, "failed": failed,
                     "yAll": round(CHART_HEIGHT - h_all, 1), "hAll": h_all,
                     "yFailed": round(CHART_HEIGHT - h_failed, 1), "hFailed": h_failed})
    return {"bars": bars, "peak": peak, "width": CHART_WIDTH, "height": CHART_HEIGHT,
            "processed": sum(b["processed"] for b in bars),
            "failed": sum(b["failed"] for b in bars)}
