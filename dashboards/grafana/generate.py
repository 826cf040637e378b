#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes vigil's Grafana dashboards (vigil-soc.json, vigil-operations.json) next to this file.

The JSON files are checked in; edit this script and rerun it rather than editing them
(`--check` only compares, for CI). Every
query uses the ${datasource} variable (type prometheus), never a datasource id, and only metrics
a live vigil exposes (tests/bpf/export_test.cpp scrapes vigil and runs each query).
"""

import json
import os
import sys

DS = {"type": "prometheus", "uid": "${datasource}"}


def templating(extra):
    ds = {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "prometheus",
        "current": {},
        "hide": 0,
        "refresh": 1,
    }
    return {"list": [ds] + extra}


def query_var(name, label, query):
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DS,
        "definition": query,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "current": {"text": "All", "value": "$__all"},
        "refresh": 2,
        "sort": 1,
        "hide": 0,
    }


class Layout:
    """Places panels left to right on Grafana's 24-column grid."""

    def __init__(self):
        self.x = 0
        self.y = 0
        self.row_h = 0
        self.next_id = 1

    def place(self, w, h):
        if self.x + w > 24:
            self.x = 0
            self.y += self.row_h
            self.row_h = 0
        pos = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def panel(self, kind, title, targets, w=12, h=8, unit=None, desc="", options=None):
        refs = "ABCDEFGH"
        p = {
            "id": self.next_id,
            "type": kind,
            "title": title,
            "description": desc,
            "datasource": DS,
            "gridPos": self.place(w, h),
            "targets": [
                {"datasource": DS, "refId": refs[i], "expr": expr, "legendFormat": legend,
                 "range": kind != "stat" and kind != "bargauge" and kind != "table",
                 "instant": kind in ("stat", "bargauge", "table")}
                for i, (expr, legend) in enumerate(targets)
            ],
            "fieldConfig": {"defaults": {"unit": unit} if unit else {}, "overrides": []},
            "options": options or {},
        }
        self.next_id += 1
        return p


def dashboard(uid, title, desc, panels, variables, tags):
    return {
        "uid": uid,
        "title": title,
        "description": desc,
        "tags": tags,
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 38,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": templating(variables),
        "annotations": {"list": []},
        "panels": panels,
    }


def soc():
    sel = 'profile=~"$profile"'
    L = Layout()
    reduce_sum = {"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "background"}
    bars = {"displayMode": "basic", "orientation": "horizontal",
            "reduceOptions": {"calcs": ["lastNotNull"]}}
    panels = [
        L.panel("stat", "Critical alerts", [
            (f'sum(increase(vigil_alerts_total{{{sel},severity=~"emergency|alert|critical"}}[$__range])) or vector(0)', "critical")],
            w=6, h=5, options=reduce_sum, desc="Alerts of severity critical or above in the time range"),
        L.panel("stat", "Exfiltration sequences", [
            (f'sum(increase(vigil_alerts_total{{{sel},rule=~"exfil-.*"}}[$__range])) or vector(0)', "sequences")],
            w=6, h=5, options=reduce_sum,
            desc="A credential read followed by egress from the same agent (rules exfil-*)"),
        L.panel("stat", "Denied operations", [
            ('sum(increase(vigil_enforcement_decisions_total{verdict="denied"}[$__range])) or vector(0)', "denied")],
            w=6, h=5, options=reduce_sum, desc="Reads, connects and other operations the kernel or the fanotify guard refused"),
        L.panel("stat", "Agent cgroups watched", [
            ("sum(vigil_agent_cgroups)", "cgroups")], w=6, h=5, options=reduce_sum),
        L.panel("timeseries", "Alerts by rule and severity", [
            (f"sum by (rule, severity) (increase(vigil_alerts_total{{{sel}}}[$__rate_interval]))", "{{rule}} ({{severity}})")],
            w=24, h=9, unit="short"),
        L.panel("bargauge", "Top profiles by alerts", [
            (f"topk(10, sum by (profile) (increase(vigil_alerts_total{{{sel}}}[$__range])))", "{{profile}}")],
            w=12, h=8, options=bars),
        L.panel("bargauge", "Top processes by alerts", [
            (f"topk(10, sum by (process) (increase(vigil_process_alerts_total{{{sel}}}[$__range])))", "{{process}}")],
            w=12, h=8, options=bars, desc="Process names (comm); at most 64 distinct names, the rest as \"other\""),
        L.panel("timeseries", "Credential reads denied or would-deny", [
            ('sum by (tier, verdict) (rate(vigil_enforcement_decisions_total{kind="file",verdict=~"denied|would-deny"}[$__rate_interval]))', "{{verdict}} by {{tier}}")],
            w=12, h=8, unit="ops"),
        L.panel("timeseries", "Connects denied or would-deny", [
            ('sum by (tier, verdict) (rate(vigil_enforcement_decisions_total{kind="network",verdict=~"denied|would-deny"}[$__rate_interval]))', "{{verdict}} by {{tier}}")],
            w=12, h=8, unit="ops"),
        L.panel("bargauge", "Egress destinations by scope", [
            (f"sum by (scope, verdict) (increase(vigil_egress_connections_total{{{sel}}}[$__range]))", "{{scope}} {{verdict}}")],
            w=12, h=8, options=bars,
            desc="Connects and sends of agents by destination class (loopback, private, link-local, public, ...)"),
        L.panel("timeseries", "Egress alerts by rule", [
            (f'sum by (rule) (increase(vigil_alerts_total{{{sel},rule=~"egress-.*|exfil-.*"}}[$__rate_interval]))', "{{rule}}")],
            w=12, h=8, unit="short"),
        L.panel("timeseries", "Egress bytes by profile", [
            (f"sum by (profile) (rate(vigil_egress_bytes_total{{{sel}}}[$__rate_interval]))", "{{profile}}")],
            w=24, h=7, unit="Bps"),
        L.panel("stat", "Agents contained now", [
            ('sum by (state) (vigil_contained_agents)', "{{state}}")],
            w=6, h=8, options=reduce_sum,
            desc="Agent cgroups a response action holds frozen or isolated until `vigil resume`"),
        L.panel("timeseries", "Response actions by action and result", [
            (f"sum by (action, result) (increase(vigil_response_actions_total{{{sel}}}[$__rate_interval]))", "{{action}} {{result}}")],
            w=18, h=8, unit="short",
            desc="freeze, kill, isolate, run (counted when its command ends), thaw, restore; "
                 "suppressed: already in force or within its cooldown; failed: the agent may not be contained"),
    ]
    return dashboard("vigil-soc", "vigil / SOC overview",
                     "What agents did that a SOC acts on: alerts, denials, egress, exfiltration",
                     panels, [query_var("profile", "Profile", "label_values(vigil_events_total, profile)")],
                     ["vigil", "security"])


def operations():
    inst = 'instance=~"$instance"'
    L = Layout()
    stat = {"reduceOptions": {"calcs": ["lastNotNull"]}}
    panels = [
        L.panel("stat", "Enforcement tier", [
            (f"max by (kind, tier) (vigil_enforcement_tier{{{inst}}})", "{{kind}}: {{tier}}")],
            w=8, h=5, options={**stat, "textMode": "name"}),
        L.panel("stat", "Rules and profiles loaded", [
            (f"sum(vigil_rules_loaded{{{inst}}})", "rules"),
            (f"sum(vigil_profiles_loaded{{{inst}}})", "profiles")], w=8, h=5, options=stat),
        L.panel("stat", "Build", [
            (f"count by (version, abi) (vigil_build_info{{{inst}}})", "{{version}} (ABI {{abi}})")],
            w=8, h=5, options={**stat, "textMode": "name"}),
        L.panel("timeseries", "Events per second by type", [
            (f"sum by (type) (rate(vigil_events_total{{{inst}}}[$__rate_interval]))", "{{type}}"),
            (f"sum(rate(vigil_kernel_events_total{{{inst}}}[$__rate_interval]))", "kernel submitted")],
            w=12, h=8, unit="ops"),
        L.panel("timeseries", "Events lost", [
            (f"sum(rate(vigil_ringbuf_drops_total{{{inst}}}[$__rate_interval]))", "ring buffer full"),
            (f"sum(rate(vigil_queue_drops_total{{{inst}}}[$__rate_interval]))", "userspace queue full"),
            (f"sum(rate(vigil_kernel_stash_drops_total{{{inst}}}[$__rate_interval]))", "syscall stash full"),
            (f"sum(rate(vigil_decode_errors_total{{{inst}}}[$__rate_interval]))", "undecodable")],
            w=12, h=8, unit="ops"),
        L.panel("timeseries", "Ring buffer fill and queue depth", [
            (f"max(vigil_ringbuf_used_bytes{{{inst}}} / vigil_ringbuf_size_bytes{{{inst}}})", "ring buffer"),
            (f"max(vigil_queue_depth{{{inst}}} / vigil_queue_capacity{{{inst}}})", "userspace queue")],
            w=12, h=8, unit="percentunit"),
        L.panel("timeseries", "Pipeline latency (kernel event to alert)", [
            (f"histogram_quantile(0.5, sum by (le) (rate(vigil_alert_latency_seconds_bucket{{{inst}}}[$__rate_interval])))", "p50"),
            (f"histogram_quantile(0.9, sum by (le) (rate(vigil_alert_latency_seconds_bucket{{{inst}}}[$__rate_interval])))", "p90"),
            (f"histogram_quantile(0.99, sum by (le) (rate(vigil_alert_latency_seconds_bucket{{{inst}}}[$__rate_interval])))", "p99")],
            w=12, h=8, unit="s"),
        L.panel("timeseries", "Rule reload failures", [
            (f"sum(increase(vigil_rule_reload_failures_total{{{inst}}}[$__rate_interval]))", "failed reloads")],
            w=8, h=7, unit="short"),
        L.panel("timeseries", "Event log writes", [
            (f"sum(rate(vigil_eventlog_written_bytes_total{{{inst}}}[$__rate_interval]))", "written")],
            w=8, h=7, unit="Bps"),
        L.panel("timeseries", "Event log health", [
            (f"sum(increase(vigil_eventlog_dropped_records_total{{{inst}}}[$__rate_interval]))", "records dropped"),
            (f"sum(increase(vigil_eventlog_write_errors_total{{{inst}}}[$__rate_interval]))", "write errors"),
            (f"sum(increase(vigil_eventlog_segments_deleted_total{{{inst}}}[$__rate_interval]))", "segments deleted")],
            w=8, h=7, unit="short"),
        L.panel("timeseries", "Alert outputs", [
            (f"sum by (sink) (rate(vigil_alert_sink_delivered_total{{{inst}}}[$__rate_interval]))", "{{sink}} delivered"),
            (f"sum by (sink) (rate(vigil_alert_sink_failed_total{{{inst}}}[$__rate_interval]))", "{{sink}} failed attempts"),
            (f"sum by (sink) (rate(vigil_alert_sink_dropped_total{{{inst}}}[$__rate_interval]))", "{{sink}} dropped")],
            w=12, h=8, unit="ops"),
        L.panel("timeseries", "Agent cgroups watched", [
            (f"sum(vigil_agent_cgroups{{{inst}}})", "cgroups")], w=12, h=8, unit="short"),
    ]
    return dashboard("vigil-operations", "vigil / operations",
                     "Health of the vigil agents: throughput, losses, buffers, latency, reloads, event log",
                     panels, [query_var("instance", "Instance", "label_values(vigil_build_info, instance)")],
                     ["vigil", "operations"])


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    check = "--check" in sys.argv[1:]
    stale = []
    for name, board in (("vigil-soc.json", soc()), ("vigil-operations.json", operations())):
        path = os.path.join(here, name)
        text = json.dumps(board, indent=2) + "\n"
        if check:
            with open(path, encoding="utf-8") as f:
                if f.read() != text:
                    stale.append(name)
            continue
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    if stale:
        print("generate.py: out of date, rerun dashboards/grafana/generate.py: " + ", ".join(stale))
        sys.exit(1)


if __name__ == "__main__":
    main()
