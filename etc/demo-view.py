#!/usr/bin/env python3
"""The demo's incident view: tocsin.incident/1 events (JSON lines) on stdin,
one coloured line per event on stdout.  Red: waiting (open), yellow: being
handled (acknowledged, dispatched, on site), green: nearly done (cleared,
resolved, closed) -- the progress colours of the service standard."""
import json
import sys

RED, YELLOW, GREEN, BOLD, DIM, OFF = ("\033[31m", "\033[33m", "\033[32m",
                                      "\033[1m", "\033[2m", "\033[0m")
COLOUR = {"open": RED, "reopened": RED, "acknowledged": YELLOW,
          "dispatched": YELLOW, "on_site": YELLOW, "cleared": GREEN,
          "resolved": GREEN, "closed": GREEN}


def main():
    tty = sys.stdout.isatty() or "--colour" in sys.argv
    seen = 0
    for line in sys.stdin:
        try:
            ev = json.loads(line)
            inc = ev["incident"]
        except (ValueError, KeyError):
            print("demo-view: skipped a line that is not an incident event",
                  file=sys.stderr)
            continue
        seen += 1
        where = inc.get("site") or ("area " + inc["area"])
        root = inc.get("root_cause") or {}
        if inc.get("kind") == "area":
            # links names at most correlation.storm.event_links sites;
            # links_total counts them all
            cause = "grid outage of the area: %d sites" % inc.get(
                "links_total", len(inc.get("links") or []))
        elif ev["event"] == "closed" and not root:
            cause = "merged into its root cause's incident"
        else:
            cause = "%s on %s" % (root.get("alarm", "-"), root.get("device", "-"))
        children = [a["code"] + "@" + a["device"] for a in inc.get("alarms", [])
                    if a["device"] != root.get("device") or a["code"] != root.get("alarm")]
        who = ", ".join("%s (%s)" % (c["id"], c["tier"])
                        for c in inc.get("customers", []))
        flags = [f for f in ("planned", "flapping", "chronic") if inc.get(f)]
        col = COLOUR.get(inc.get("state"), "") if tty else ""
        off = OFF if tty else ""
        print("%s %s%-9s%s %s%-12s%s %-7s %-8s %-13s %s%s%s" % (
            ev["at"][11:19], BOLD if tty else "", ev["event"], off,
            col, inc["id"], off, where, inc["severity"], inc["state"], cause,
            (" + " + ", ".join(children)) if children else "",
            (" [" + ",".join(flags) + "]") if flags else ""))
        if ev["event"] == "opened" and who:
            print("%s%9s customers: %s; site tier %s%s" % (
                DIM if tty else "", "", who, inc.get("tier"), off))
        sys.stdout.flush()
    print("demo-view: %d incident events" % seen, file=sys.stderr)


if __name__ == "__main__":
    main()
